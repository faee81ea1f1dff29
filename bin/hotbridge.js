#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=2
// The installed command. The code lives in dist/ (built from src/ by `npm run build`).
// --max-semi-space-size=2 (MB): a smaller young generation keeps a daemon holding a 100,000-message
// mailbox about 20 MB smaller, for no measurable cost in speed (bench/imap.bench.ts). MALLOC_ARENA_MAX=2:
// glibc's malloc arenas (one per thread that mallocs) each keep what was freed in them; two keep such a
// daemon ~20 MB smaller (the systemd units set it too; other C libraries ignore it).
let main;
try {
  ({ main } = await import('../dist/cli/main.js'));
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist')) throw err;
  const root = new URL('..', import.meta.url).pathname;
  console.error(`hotbridge: it is not built yet (no ${root}dist): run \`npm install\` (or \`npm start\`) in ${root} first`);
  process.exit(2);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`hotbridge: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
