/**
 * The data dir (mail, tokens, local passwords, the status socket): made and checked before anything opens
 * it, so that a wrong or unwritable `data_dir` is reported as what it is ("cannot write to
 * /var/lib/hotbridge: permission denied; …") and not as whatever the first part to touch it fails with.
 * A data dir on a pseudo-filesystem (/proc, /sys, /dev) is refused: LevelDB cannot work there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A data dir hotbridge cannot use; the message says what is wrong and what to do. */
export class DataDirError extends Error {
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(message);
    this.name = 'DataDirError';
  }
}

/** statfs(2) f_type values of kernel pseudo-filesystems (linux/magic.h). */
const PSEUDO_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x63677270, 'cgroup2'],
  [0x27e0eb, 'cgroup'],
  [0x64626720, 'debugfs'],
  [0x73636673, 'securityfs'],
  [0x74726163, 'tracefs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0x42494e4d, 'binfmt_misc'],
  [0x19800202, 'mqueue'],
]);

const PSEUDO_PREFIXES = ['/proc', '/sys', '/dev'];

/** The nearest directory of `dir` that exists (itself, or an ancestor). */
function nearestExisting(dir: string): string {
  let current = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(current)) return current;
    const parent = path.dirname(current);
    if (parent === current) return current;
    current = parent;
  }
}

/** Who should own the dir, for the fix. */
function ownerHint(dir: string): string {
  if (dir === '/var/lib/hotbridge' || dir.startsWith('/var/lib/hotbridge/')) {
    return 'run hotbridge as the hotbridge user (sudo -u hotbridge hotbridge …, or through the service), or fix the owner: sudo chown -R hotbridge:hotbridge /var/lib/hotbridge';
  }
  const me = os.userInfo().username;
  return `run hotbridge as the user who owns it, or fix the owner: sudo chown -R ${me} ${dir}`;
}

function codeText(code: string | undefined): string {
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'the disk is full';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a directory';
    default:
      return code ?? 'error';
  }
}

/** Refuses a data dir on a kernel pseudo-filesystem; returns the reason, or undefined when it is fine. */
export function pseudoFilesystemOf(dir: string): string | undefined {
  const absolute = path.resolve(dir);
  const prefix = PSEUDO_PREFIXES.find((p) => absolute === p || absolute.startsWith(`${p}/`));
  if (prefix) return prefix;
  try {
    const type = Number(fs.statfsSync(nearestExisting(absolute)).type);
    return PSEUDO_FILESYSTEMS.get(type);
  } catch {
    return undefined;
  }
}

/** What is wrong with using `dir` as the data dir, without changing anything; undefined when it is usable. */
export function dataDirProblem(dir: string): string | undefined {
  const absolute = path.resolve(dir);
  const pseudo = pseudoFilesystemOf(absolute);
  if (pseudo)
    return `${absolute} is on ${pseudo}, a kernel pseudo-filesystem that cannot hold files: set data_dir to a real directory (for example ${path.join(os.homedir(), '.local', 'share', 'hotbridge')})`;
  const existing = nearestExisting(absolute);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(existing);
  } catch (err) {
    return `cannot look at ${existing}: ${codeText((err as NodeJS.ErrnoException).code)}`;
  }
  if (!stat.isDirectory()) return `${existing} is a file, not a directory: set data_dir to a directory`;
  try {
    // W_OK on the dir itself, or on the ancestor it would be created in; X_OK to enter it.
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `cannot write to ${existing === absolute ? absolute : `${existing} (to create ${absolute})`}: ${codeText(code)}; ${existing === absolute ? ownerHint(absolute) : 'create it first, or choose a data_dir you can write to'}`;
  }
  if (existing === absolute) {
    // Not `store` nor `local-passwords.json`: their own opens name the file, its owner and mode, and the fix.
    for (const entry of ['oauth']) {
      const file = path.join(absolute, entry);
      if (!fs.existsSync(file)) continue;
      try {
        fs.accessSync(file, fs.constants.W_OK);
      } catch (err) {
        return `cannot write to ${file}: ${codeText((err as NodeJS.ErrnoException).code)}; ${ownerHint(absolute)}`;
      }
    }
  }
  return undefined;
}

/**
 * Creates the data dir (0700) and proves it writable with a small file; throws {@link DataDirError} with a
 * message a person can act on.
 */
export function prepareDataDir(dir: string): void {
  const absolute = path.resolve(dir);
  const problem = dataDirProblem(absolute);
  if (problem) throw new DataDirError(absolute, problem);
  try {
    fs.mkdirSync(absolute, { recursive: true, mode: 0o700 });
    if (fs.statSync(absolute).uid === process.getuid?.()) fs.chmodSync(absolute, 0o700);
    const probe = path.join(absolute, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataDirError(
      absolute,
      `cannot write to ${absolute}: ${codeText(code)}; ${code === 'EACCES' || code === 'EPERM' ? ownerHint(absolute) : 'choose another data_dir'}`,
    );
  }
}
