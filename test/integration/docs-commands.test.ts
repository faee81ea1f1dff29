/**
 * Every command the README and docs/ show in a ```sh block, so that the docs cannot drift from the code.
 * Each is one of three kinds, and the test's name says which:
 * - "runs": a hotbridge command that needs no live provider (help, dry runs, status, password, doctor,
 *   login against the local identity server) runs for real, as a child process, with a sandbox config;
 * - "parses": a hotbridge command that needs a live provider, a terminal or a running service manager
 *   (run, setup, service start/stop/…) is checked against the real command-line parser: it would be
 *   accepted as written (first-run.test.ts drives setup and run themselves under a pty);
 * - "npm": an npm command is named with the test that runs it, or said plainly not to be run.
 * A line of any other kind fails: the docs show such commands inline, not as something to paste.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommandLine } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { fencedBlocks, markdownFiles, REPO_ROOT } from '../helpers/docs.js';
import { startIdentityServer, type IdentityServer } from '../helpers/identity-server.js';
import { freePorts } from '../helpers/ports.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

interface Shown {
  file: string;
  line: string;
}

/** Every command line of every sh block, comments and blank lines left out. */
function shownCommands(): Shown[] {
  const shown: Shown[] = [];
  for (const file of markdownFiles()) {
    for (const block of fencedBlocks(file).filter((b) => b.lang === 'sh')) {
      for (const raw of block.body.split('\n')) {
        const line = raw
          .replace(/\s{2,}#.*$/, '')
          .replace(/^#.*$/, '')
          .trim();
        if (line !== '') shown.push({ file, line });
      }
    }
  }
  return shown;
}

/** Shell words of a simple command line (quotes and backslash-escaped spaces, no expansions). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|((?:\\\s|\S)+)/g)].map((m) => m[1] ?? m[2] ?? m[3].replace(/\\(\s)/g, '$1'));
}

/** The npm commands the docs show, and the test that runs each (or why none does). */
const NPM: Record<string, { by: string; contains?: string }> = {
  'npm start': { by: 'test/integration/first-run.test.ts', contains: 'exec npm start' },
  'npm test': { by: 'vitest.config.ts (this suite is what it runs)' },
  'npm install -g .': { by: 'test/integration/npm-install.test.ts', contains: "'install', '-g'" },
  'npm install -g "$(npm pack --silent)"': { by: 'test/integration/npm-install.test.ts', contains: "'pack', '--silent'" },
  'npx vitest run test/unit': { by: 'vitest.config.ts (a part of npm test)' },
  'npm run typecheck': { by: 'test/unit/project/typecheck.test.ts', contains: 'tsconfig.test.json' },
  'npm run deps': { by: 'test/unit/project/dependency-rules.test.ts', contains: 'dependency-cruiser' },
  'npm run lint': { by: 'not run by npm test (run it before a commit); the script is checked to exist' },
  'npm run format:check': { by: 'not run by npm test (run it before a commit); the script is checked to exist' },
  'npm run bench': { by: 'not run by npm test (it takes minutes and prints figures); the script is checked to exist' },
  'npm run bench -- imap': { by: 'not run by npm test (it takes minutes and prints figures); the script is checked to exist' },
  'npm run fuzz': { by: 'not run by npm test (100x the property runs); the script is checked to exist' },
};

const ADDRESS = 'you@hotmail.com';
const commands = shownCommands();
let dir: string;
let config: string;
let idp: IdentityServer;
const sandboxEnv = (): NodeJS.ProcessEnv => ({
  HOME: path.join(dir, 'home'),
  XDG_CONFIG_HOME: path.join(dir, 'xdg-config'),
  XDG_DATA_HOME: path.join(dir, 'xdg-data'),
});

beforeAll(async () => {
  dir = tempDir();
  idp = await startIdentityServer({ clientId: '3f2504e0-4f89-41d3-9a0c-0305e82c3301' });
  const [imap, smtp, closed] = await freePorts(3);
  config = path.join(dir, 'config.toml');
  // The docs' account, at servers on this machine that refuse connections, signing in at the local
  // identity server: every command runs, nothing leaves the machine.
  fs.writeFileSync(
    config,
    [
      `data_dir = "${path.join(dir, 'data')}"`,
      '[imap]',
      `listen = ["127.0.0.1:${imap}"]`,
      '[smtp]',
      `listen = ["127.0.0.1:${smtp}"]`,
      '[[accounts]]',
      `address = "${ADDRESS}"`,
      '[accounts.auth]',
      `client_id = "${idp.clientId}"`,
      `authority = "${idp.authority}"`,
      '[accounts.pop3]',
      'host = "127.0.0.1"',
      `port = ${closed}`,
      '[accounts.smtp]',
      'host = "127.0.0.1"',
      `port = ${closed}`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await idp?.close();
  if (dir) removeDir(dir);
});

/** The hotbridge argv of a docs line (sudo, sudo -u hotbridge and npx taken off), or undefined. */
function hotbridgeArgv(line: string): string[] | undefined {
  const w = words(line);
  for (;;) {
    const first: string | undefined = w[0];
    if (first !== 'sudo' && first !== 'npx') break;
    w.shift();
    if (w[0] === '-u') w.splice(0, 2);
  }
  return w[0] === 'hotbridge' ? w.slice(1) : undefined;
}

/** What running it for real must show; undefined when it is only parsed. */
function realRun(argv: string[]): { input?: string; code: number; says: RegExp } | undefined {
  if (argv.includes('--help')) return { code: 0, says: /hotbridge/ };
  if (argv[0] === 'service' && argv.includes('--dry-run')) return { code: 0, says: /dry run, nothing is changed[\s\S]*ExecStart=/ };
  if (argv[0] === 'status') return { code: 3, says: /hotbridge is not running for .*; start it with: hotbridge run/ };
  if (argv[0] === 'password') return { input: 'a-long-local-password\n', code: 0, says: new RegExp(`Local password set for ${ADDRESS}`) };
  if (argv[0] === 'doctor')
    return { code: 1, says: /✓ config is valid[\s\S]*✓ data dir [\s\S]*POP3 server 127\.0\.0\.1 refused|nothing answers on 127\.0\.0\.1/ };
  if (argv[0] === 'login') return { code: 0, says: new RegExp(`Enter this code:[\\s\\S]*Signed in: ${ADDRESS}\\.`) };
  return undefined;
}

describe('every command shown in the docs', () => {
  it('the docs show commands at all (the extraction works)', () => {
    expect(commands.length).toBeGreaterThan(20);
    expect(commands.some((c) => c.line.startsWith('hotbridge service install --dry-run'))).toBe(true);
  });

  for (const { file, line } of commands) {
    const argv = hotbridgeArgv(line);
    if (argv) {
      const run = realRun(argv);
      it(`${run ? 'runs' : 'parses'}: ${line}   (${file})`, async () => {
        expect(await checkCommandLine(argv), `${file}: ${line}`).toBeUndefined();
        if (!run) return;
        const withConfig = argv.includes('--config') ? argv : [...argv, '--config', config];
        if (argv[0] === 'login') idp.scriptDeviceFlow({ user: ADDRESS });
        const result = await runCli(withConfig, { env: sandboxEnv(), timeoutMs: 60_000, ...(run.input ? { input: run.input } : {}) });
        expect(result.code, `${line}\n${result.stdout}${result.stderr}`).toBe(run.code);
        expect(result.stdout + result.stderr).toMatch(run.says);
      }, 90_000);
      continue;
    }
    if (/^(npm|npx) /.test(line)) {
      it(`npm: ${line}   (${file}; ${NPM[line]?.by ?? 'no test named'})`, () => {
        const known = NPM[line];
        expect(known, `${file}: ${line} is not known to the docs test: say which test runs it`).toBeDefined();
        const script = /^npm run (\S+)/.exec(line)?.[1];
        if (script) expect(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).scripts[script]).toBeDefined();
        const testFile = known.by.split(' ')[0];
        if (known.contains) expect(fs.readFileSync(path.join(REPO_ROOT, testFile), 'utf8')).toContain(known.contains);
        else if (fs.existsSync(path.join(REPO_ROOT, testFile))) expect(fs.statSync(path.join(REPO_ROOT, testFile)).isFile()).toBe(true);
        const target = /^npx vitest run (\S+)$/.exec(line)?.[1];
        if (target) expect(fs.existsSync(path.join(REPO_ROOT, target))).toBe(true);
      });
      continue;
    }
    it(`other: ${line}   (${file})`, () => {
      throw new Error(
        `${file}: "${line}" is neither a hotbridge nor an npm command; show it inline instead, or teach this test which test runs it`,
      );
    });
  }
});
