/**
 * The dependency rules of hotbridge (docs/architecture.md), checked in `npm test`
 * (test/unit/project/dependency-rules.test.ts) and by `npm run deps`:
 *
 *   cli ─► daemon ─► upstream, downstream ─► store ─► mime
 *                      (all of them but mime) ─► config, runtime
 *
 * Every arrow points down: upstream and downstream meet only in the store, and only through its door.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'store-door',
      comment: 'Outside src/store, the store is reached only through its door, src/store/index.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/' },
      to: { path: '^src/store/', pathNot: '^src/store/index\\.ts$' },
    },
    {
      name: 'upstream-not-downstream',
      comment: 'The provider side and the mail-client side never import each other: they meet in the store.',
      severity: 'error',
      from: { path: '^src/upstream/' },
      to: { path: '^src/downstream/' },
    },
    {
      name: 'downstream-not-upstream',
      comment: 'The provider side and the mail-client side never import each other: they meet in the store.',
      severity: 'error',
      from: { path: '^src/downstream/' },
      to: { path: '^src/upstream/' },
    },
    {
      name: 'parts-not-daemon-or-cli',
      comment: 'The parts sit below the daemon that wires them and the CLI that starts it.',
      severity: 'error',
      from: { path: '^src/(store|mime|runtime|config|upstream|downstream)/' },
      to: { path: '^src/(daemon|cli)/' },
    },
    {
      name: 'daemon-not-cli',
      comment: 'The daemon wires the parts; the CLI starts the daemon, not the other way round.',
      severity: 'error',
      from: { path: '^src/daemon/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'store-below-servers',
      comment: 'The store speaks no protocol: it imports neither side, nor the daemon or CLI.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/(upstream|downstream|daemon|cli)/' },
    },
    {
      name: 'config-runtime-below-parts',
      comment: 'The config and the shared runtime (logger, status board, local logins, files) sit below every part.',
      severity: 'error',
      from: { path: '^src/(config|runtime)/' },
      to: { path: '^src/(store|mime|upstream|downstream|daemon|cli)/' },
    },
    {
      name: 'mime-is-a-leaf',
      comment: 'MIME parsing is a library for everyone: it imports no other part.',
      severity: 'error',
      from: { path: '^src/mime/' },
      to: { path: '^src/', pathNot: '^src/mime/' },
    },
    {
      name: 'no-cycles',
      comment: 'No module depends on itself through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are arrows too: a part that names another's types depends on it.
    tsPreCompilationDeps: true,
    // With the tsconfig, `./x.js` (how ESM sources name each other) resolves to the file `./x.ts`.
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
