/**
 * A real systemd for tests, as PID 1 of a private PID, mount and network namespace: it sees a copy of
 * /etc (so `useradd` and unit files change the copy only) and private /run, /var/lib, /var/log and /tmp,
 * starts nothing but a target of its own (no service of the machine), and has only a loopback network.
 * Commands run inside with nsenter. Needs root, unshare and nsenter (util-linux) and systemd installed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SystemdNamespace {
  /** systemd's pid, as seen from outside. */
  pid: number;
  /** The nsenter prefix that runs a command inside. */
  enter: string[];
  run(argv: string[], o?: { input?: string; env?: NodeJS.ProcessEnv }): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

export const SYSTEMD = '/lib/systemd/systemd';

/** Installs Debian's systemd package when it is missing and we may (root), as the lab does for Dovecot. */
export function ensureSystemdInstalled(): void {
  if (fs.existsSync(SYSTEMD) || process.getuid?.() !== 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', 'systemd'], {
      stdio: 'ignore',
      env,
    });
  if (install().status !== 0) {
    spawnSync('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=300'], { stdio: 'ignore', env });
    install();
  }
}

function childOf(pid: number): number | undefined {
  try {
    const children = fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((task) => fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/))
      .filter((entry) => entry !== '');
    return children.length > 0 ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

export async function startSystemdNamespace(dir: string): Promise<SystemdNamespace> {
  const etc = path.join(dir, 'etc');
  execFileSync('cp', ['-a', '/etc', etc]);
  // No unit of the machine may start in here: take out every "wants" link, and boot into a target of our own.
  execFileSync('find', [path.join(etc, 'systemd', 'system'), '-name', '*.wants', '-type', 'd', '-prune', '-exec', 'rm', '-rf', '{}', '+']);
  fs.writeFileSync(
    path.join(etc, 'systemd', 'system', 'hotbridge-test.target'),
    '[Unit]\nDescription=hotbridge test: nothing but what the test starts\n',
  );
  const script = [
    'set -e',
    'ip link set lo up',
    `mount --bind ${etc} /etc`,
    'mount -t tmpfs -o mode=0755 none /run',
    'mount -t tmpfs -o mode=0755 none /var/lib',
    'mount -t tmpfs -o mode=0755 none /var/log',
    'mount -t tmpfs -o mode=1777 none /tmp',
    `exec ${SYSTEMD} --system --unit=hotbridge-test.target`,
  ].join('\n');
  const unshare: ChildProcess = spawn(
    'unshare',
    ['--pid', '--fork', '--mount-proc', '--mount', '--net', '--propagation', 'private', 'sh', '-c', script],
    { stdio: 'ignore', detached: true },
  );
  let pid: number | undefined;
  const deadline = Date.now() + 60_000;
  while (pid === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const candidate = unshare.pid ? childOf(unshare.pid) : undefined;
    if (candidate && fs.readFileSync(`/proc/${candidate}/cmdline`, 'utf8').startsWith(SYSTEMD)) pid = candidate;
  }
  if (pid === undefined) throw new Error('systemd did not start in its namespace');
  const enter = ['nsenter', '-t', String(pid), '-m', '-p', '-n'];
  const run: SystemdNamespace['run'] = (argv, o = {}) => {
    const result = spawnSync(enter[0], [...enter.slice(1), ...argv], {
      encoding: 'utf8',
      input: o.input ?? '',
      env: { ...process.env, ...o.env },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  for (;;) {
    const state = run(['systemctl', 'is-system-running']).stdout.trim();
    if (state === 'running' || state === 'degraded') break;
    if (Date.now() > deadline) throw new Error(`systemd in the namespace is ${state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // journald, so that the service's log lands where journalctl reads it.
  run(['systemctl', 'start', 'systemd-journald.socket', 'systemd-journald.service']);
  return {
    pid,
    enter,
    run,
    async stop() {
      // PID 1 of a namespace ignores SIGTERM; SIGKILL from outside ends it and everything in it.
      try {
        process.kill(pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      await new Promise((r) => setTimeout(r, 300));
    },
  };
}
