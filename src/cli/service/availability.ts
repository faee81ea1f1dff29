/**
 * Whether this computer has a service manager hotbridge can install itself into, for the scope wanted.
 * Set-up asks "start by itself?" only when the answer can be yes; otherwise it says why not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export type Availability = { available: true; manager: 'systemd' | 'launchd' } | { available: false; reason: string };

export function serviceManagerFor(scope: 'user' | 'system', platform: NodeJS.Platform = process.platform): Availability {
  if (platform === 'darwin') return { available: true, manager: 'launchd' };
  if (platform !== 'linux') return { available: false, reason: `hotbridge knows systemd (Linux) and launchd (macOS), not ${platform}` };
  // sd_booted(3): systemd is the running init exactly when this directory exists.
  if (!fs.existsSync('/run/systemd/system'))
    return {
      available: false,
      reason: 'this system does not run systemd (no /run/systemd/system), and hotbridge knows no other service manager',
    };
  if (scope === 'user') {
    const probe = spawnSync('systemctl', ['--user', 'show-environment'], { stdio: 'ignore', timeout: 5000 });
    if (probe.status !== 0) {
      return {
        available: false,
        reason: `systemd runs, but there is no user service manager for ${os.userInfo().username} in this session (log in on the console or by SSH, or: loginctl enable-linger ${os.userInfo().username})`,
      };
    }
  }
  return { available: true, manager: 'systemd' };
}
