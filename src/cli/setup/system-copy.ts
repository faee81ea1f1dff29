/**
 * The system service cannot run hotbridge from a clone in a home directory (ProtectHome=yes hides them,
 * and /root is closed to the service user anyway) or in /tmp (PrivateTmp=yes). Set-up run as root from
 * such a clone offers to install a copy for the whole system first, the way the README says by hand:
 * `npm pack`, then `npm install -g` of the tarball, and then installs the service from that copy.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../service/units.js';

/** This hotbridge's bin/hotbridge.js when the system service could not see it; undefined when it could. */
export function hiddenFromSystemService(): string | undefined {
  let bin = path.join(PACKAGE_ROOT, 'bin', 'hotbridge.js');
  try {
    bin = fs.realpathSync(bin);
  } catch {
    return undefined;
  }
  return /^\/(home|root|run\/user|tmp|var\/tmp)(\/|$)/.test(bin) ? bin : undefined;
}

/** Packs this clone and installs the tarball globally; returns the installed bin/hotbridge.js. Throws with npm's last lines. */
export function installSystemCopy(out: NodeJS.WritableStream): string {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hotbridge-pack-'));
  try {
    out.write(`  npm pack (in ${PACKAGE_ROOT})\n`);
    const packed = spawnSync(npm, ['pack', '--silent', '--pack-destination', work], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
    if (packed.status !== 0)
      throw new Error(`npm pack failed: ${(packed.stderr || packed.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    const tarball = path.join(work, packed.stdout.trim().split('\n').at(-1)!);
    out.write(`  npm install -g ${path.basename(tarball)}\n`);
    const installed = spawnSync(npm, ['install', '-g', '--no-audit', '--no-fund', tarball], { encoding: 'utf8' });
    if (installed.status !== 0)
      throw new Error(`npm install -g failed: ${(installed.stderr || installed.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    const prefix = spawnSync(npm, ['prefix', '-g'], { encoding: 'utf8' }).stdout.trim();
    const bin = path.join(prefix, 'lib', 'node_modules', 'hotbridge', 'bin', 'hotbridge.js');
    if (!fs.existsSync(bin)) throw new Error(`npm installed hotbridge, but not at ${bin}`);
    return bin;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
