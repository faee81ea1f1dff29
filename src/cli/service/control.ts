/**
 * `hotbridge service status|start|stop|restart|logs`: the service manager's own commands, with the right
 * scope (system or user) and unit name, so nobody has to remember `systemctl --user … hotbridge.service`
 * or launchd's domain targets. The command is shown before it runs, so the user learns it too.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { LAUNCHD_LABEL } from './units.js';

export type ControlAction = 'status' | 'start' | 'stop' | 'restart' | 'logs';

export interface ControlInput {
  platform: 'linux' | 'darwin';
  scope: 'user' | 'system';
  action: ControlAction;
  root: boolean;
  uid: number;
  home: string;
  follow?: boolean;
  lines?: number;
  out: NodeJS.WritableStream;
}

const UNIT = 'hotbridge.service';

/** The command line that does `action` (pure: tests check it without a service manager). */
export function controlCommand(i: Omit<ControlInput, 'out' | 'root'>): string[] {
  const lines = String(i.lines ?? 50);
  if (i.platform === 'linux') {
    const systemctl = i.scope === 'user' ? ['systemctl', '--user'] : ['systemctl'];
    if (i.action === 'logs')
      return ['journalctl', ...(i.scope === 'user' ? ['--user'] : []), '-u', UNIT, '-n', lines, '--no-pager', ...(i.follow ? ['-f'] : [])];
    if (i.action === 'status') return [...systemctl, 'status', '--no-pager', UNIT];
    return [...systemctl, i.action, UNIT];
  }
  const target = `${i.scope === 'user' ? `gui/${i.uid}` : 'system'}/${LAUNCHD_LABEL}`;
  switch (i.action) {
    case 'status':
      return ['launchctl', 'print', target];
    case 'start':
      return ['launchctl', 'kickstart', target];
    case 'restart':
      return ['launchctl', 'kickstart', '-k', target];
    case 'stop':
      // A clean exit (SIGTERM) stays stopped: KeepAlive restarts only after a failure.
      return ['launchctl', 'kill', 'SIGTERM', target];
    case 'logs': {
      const log =
        i.scope === 'user' ? path.join(i.home, 'Library', 'Logs', 'hotbridge', 'hotbridge.log') : '/Library/Logs/hotbridge/hotbridge.log';
      return ['tail', '-n', lines, ...(i.follow ? ['-f'] : []), log];
    }
  }
}

/** Runs the command with the terminal attached; resolves to its exit code. */
export function controlService(i: ControlInput): number {
  const argv = controlCommand(i);
  i.out.write(`$ ${argv.join(' ')}\n`);
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['inherit', 'inherit', 'inherit'] });
  if (result.error) {
    i.out.write(`hotbridge: cannot run ${argv[0]}: ${result.error.message}\n`);
    return 1;
  }
  // systemctl status: 3 means "not running", which is an answer, not a failure of ours.
  if (i.action === 'status' && result.status === 3) i.out.write('(hotbridge is not running; start it with: hotbridge service start)\n');
  return result.status ?? 1;
}
