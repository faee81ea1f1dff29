/**
 * Getting a `hotbridge` command, as the Quick start says, with the real npm: a fresh clone (the files git
 * tracks, nothing built) runs `npm ci`, which builds it (`prepare`), so `npx hotbridge` works there;
 * `npm pack` on it makes a tarball that holds dist/; `npm install -g` of that tarball and of the clone
 * itself each give a working `hotbridge` on PATH. Dependencies come from npm's cache where it has them
 * (--prefer-offline), else from the registry, as for any user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(__dirname, '..', '..');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('npm', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env, npm_config_update_notifier: 'false' },
    timeout: 600_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let dir: string;
let clone: string;

beforeAll(() => {
  dir = tempDir();
  clone = path.join(dir, 'clone');
  // A fresh clone of this working tree: every file git tracks or would track, nothing ignored (no
  // node_modules, no dist).
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '');
  for (const file of files) {
    const from = path.join(ROOT, file);
    if (!fs.existsSync(from) || fs.statSync(from).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    fs.copyFileSync(from, path.join(clone, file));
  }
  expect(fs.existsSync(path.join(clone, 'dist'))).toBe(false);
  expect(fs.existsSync(path.join(clone, 'node_modules'))).toBe(false);
}, 120_000);

afterAll(() => {
  if (dir) removeDir(dir);
});

describe('a hotbridge command from a clone', () => {
  it('without a build, the command says what to run instead of a stack trace', () => {
    const result = spawnSync(process.execPath, [path.join(clone, 'bin', 'hotbridge.js'), '--version'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      `hotbridge: it is not built yet (no ${clone}/dist): run \`npm install\` (or \`npm start\`) in ${clone}/ first\n`,
    );
  });

  it('npm ci builds it (prepare), and npx hotbridge runs it from the clone', () => {
    const ci = npm(['ci', ...NPM_FLAGS], clone);
    expect(ci.status, ci.stderr).toBe(0);
    expect(fs.existsSync(path.join(clone, 'dist', 'cli', 'main.js'))).toBe(true);
    const npx = spawnSync('npx', ['--offline', 'hotbridge', '--version'], { cwd: clone, encoding: 'utf8', timeout: 60_000 });
    expect(npx.stdout.trim(), npx.stderr).toBe('0.1.0');
  }, 900_000);

  it('npm pack makes a tarball with dist/, the units and the docs, without src/ or tests', () => {
    const packed = npm(['pack', '--silent'], clone);
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = path.join(dir, 'hotbridge.tgz');
    fs.renameSync(path.join(clone, packed.stdout.trim().split('\n').at(-1)!), tarball);
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const file of [
      'package/bin/hotbridge.js',
      'package/dist/cli/main.js',
      'package/systemd/hotbridge.service',
      'package/launchd/LaunchAgent.plist',
      'package/docs/README.md',
      'package/README.md',
    ]) {
      expect(listing, file).toContain(file);
    }
    expect(listing.some((file) => file.startsWith('package/src/') || file.startsWith('package/test/'))).toBe(false);
  }, 600_000);

  it('npm install -g of the tarball gives a hotbridge command that runs', () => {
    const prefix = path.join(dir, 'global-tarball');
    const install = npm(['install', '-g', '--prefix', prefix, ...NPM_FLAGS, path.join(dir, 'hotbridge.tgz')], dir);
    expect(install.status, install.stderr).toBe(0);
    const command = path.join(prefix, 'bin', 'hotbridge');
    expect(spawnSync(command, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe('0.1.0');
    // The installed copy knows its own unit templates (the service installer reads them).
    const config = path.join(dir, 'global.toml');
    fs.writeFileSync(config, '[[accounts]]\naddress = "ann@hotmail.com"\n');
    const unit = spawnSync(command, ['service', 'install', '--user', '--dry-run', '--config', config], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'xdg') },
    });
    expect(unit.status, unit.stderr).toBe(0);
    expect(unit.stdout).toContain(
      `${fs.realpathSync(path.join(prefix, 'lib', 'node_modules', 'hotbridge', 'bin', 'hotbridge.js'))} run --config ${config}`,
    );
  }, 600_000);

  it('npm install -g of the clone gives a hotbridge command that runs', () => {
    const prefix = path.join(dir, 'global-clone');
    const install = npm(['install', '-g', '--prefix', prefix, ...NPM_FLAGS, clone], dir);
    expect(install.status, install.stderr).toBe(0);
    expect(spawnSync(path.join(prefix, 'bin', 'hotbridge'), ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe('0.1.0');
  }, 600_000);
});
