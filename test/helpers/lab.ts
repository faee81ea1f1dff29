// The upstream lab for integration tests: a private Dovecot (POP3, optional IMAP) and Postfix
// (submission) on loopback, standing in for outlook.office365.com:995 and smtp-mail.outlook.com:587.
// The servers are started by the scripts in test/upstream-lab/ (see its README for what they prove);
// this module gives every test file its own instance: own mktemp dir, own free ports, its own RFC 7662
// introspection endpoint in this process, and helpers to put mail in and look at what was sent.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.js';

export interface LabOptions {
  /** Start Postfix submission too (default false: Dovecot only). */
  smtp?: boolean;
  /** Dovecot also serves plain IMAP on imapPort (LOGIN allowed on 127.0.0.1, STARTTLS required on 127.0.0.2). */
  imap?: boolean;
  /** Run the introspection endpoint Dovecot asks about XOAUTH2/OAUTHBEARER tokens (setToken/revokeToken). */
  oauth?: boolean;
}

export interface CapturedMessage {
  /** Path of the maildir file Postfix delivered. */
  file: string;
  /** Its bytes, including the trace headers Postfix prepended (see stripPostfixTrace), with LF line ends. */
  raw: Buffer;
}

export type SmtpMode = 'normal' | 'tempfail' | 'permfail' | 'disconnect' | 'tempfail-data' | 'permfail-data';

export interface Lab {
  dir: string;
  /** 127.0.0.1: plain-text login allowed (Dovecot counts 127.0.0.1 -> 127.0.0.1 as secured). */
  host: string;
  /** 127.0.0.2: the plain ports require STLS/STARTTLS before login, as Outlook does. */
  strictHost: string;
  pop3Port: number;
  pop3sPort: number;
  /** Chosen even without `smtp: true`, but then nothing listens there. */
  smtpPort: number;
  imapPort?: number;
  /** Chosen even without `oauth: true`, but then nothing listens there (Dovecot answers [SYS/TEMP]). */
  oauth2Port: number;
  caFile: string;
  ca: Buffer;
  captureDir: string;
  /** Delivers one message into the user's maildir (tmp/ -> new/, owned by nobody), byte for byte. */
  injectMessage(user: string, raw: Buffer): Promise<void>;
  /** Same for many messages at once; their UIDs follow the array order. */
  injectMessages(user: string, raws: Buffer[]): Promise<void>;
  /** Messages currently in the user's maildir (new/ + cur/). */
  maildirCount(user: string): Promise<number>;
  /** Deletes the user's messages but keeps dovecot-uidlist, so UIDs (and UIDLs) are never reused. */
  clearMaildir(user: string): Promise<void>;
  /** Adds the user (or changes the password); resolves once Dovecot will have noticed. */
  addUser(user: string, password: string): Promise<void>;
  /** Refuses (or allows again) the user for POP3, IMAP and SMTP AUTH; resolves once Dovecot will have noticed. */
  setDenied(user: string, denied: boolean): Promise<void>;
  /** How Postfix answers from the next SMTP connection on (test/upstream-lab/set-smtp-mode.sh). */
  setSmtpMode(mode: SmtpMode): Promise<void>;
  /** What Postfix accepted so far, oldest first (one file per recipient). */
  captured(): Promise<CapturedMessage[]>;
  /** Polls until at least `count` messages were captured; rejects after timeoutMs (default 10 s). */
  waitForCaptured(count: number, timeoutMs?: number): Promise<CapturedMessage[]>;
  clearCaptured(): Promise<void>;
  /** Introspection answers {active, username} for this bearer token (needs `oauth: true`). */
  setToken(token: string, username: string, active?: boolean): void;
  /** Introspection answers {active: false} for this token from now on. */
  revokeToken(token: string): void;
  /**
   * Makes the endpoint answer every request with this HTTP status and no JSON (e.g. 503), so Dovecot
   * reports a temporary failure (POP3 "-ERR [SYS/TEMP]"); undefined restores normal answers.
   */
  setIntrospectionFailure(httpStatus: number | undefined): void;
  /** Number of introspection requests Dovecot made so far. */
  introspectionCount(): number;
  /** Stops Postfix then Dovecot (both are always tried), closes the endpoint, removes dir. Idempotent. */
  stop(): Promise<void>;
}

/** The users every lab starts with (LAB_DIR/dovecot/users). */
export const LAB_USERS = {
  alice: { user: 'alice@example.test', password: 'alice-password' },
  bob: { user: 'bob@example.test', password: 'bob-password' },
} as const;

const SCRIPTS_DIR = fileURLToPath(new URL('../upstream-lab/', import.meta.url));
const HOST = '127.0.0.1';
const STRICT_HOST = '127.0.0.2';
// Dovecot re-reads a passwd-file only when a stat shows a new mtime or size, and stats it at most
// once per second; measured in lab.test.ts.
const DOVECOT_FILE_CHECK_MS = 1100;
const START_ATTEMPTS = 3;
// Not os.tmpdir(): a private TMPDIR (mode 0700 parent) would lock out Dovecot's unprivileged
// processes, which must traverse the lab dir. HOTBRIDGE_LAB_TMPDIR overrides.
const LAB_PARENT_DIR = process.env.HOTBRIDGE_LAB_TMPDIR ?? '/tmp';

// ---------------------------------------------------------------------------------------------
// Running the scripts

interface ScriptResult {
  stdout: string;
  stderr: string;
}

class ScriptError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
  }
}

function runScript(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    execFile(
      path.join(SCRIPTS_DIR, name),
      args,
      { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
      (error, stdout, stderr) => {
        if (error) {
          const how = error.code !== undefined ? `exit ${String(error.code)}` : (error.signal ?? error.message);
          reject(new ScriptError(`${name} ${args.join(' ')} failed (${how})`, stderr));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env.set(m[1], m[2]);
  }
  return env;
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '(no such file)';
  }
}

// ---------------------------------------------------------------------------------------------
// Mail uid: Dovecot refuses mail access as root, so maildirs belong to nobody (as the scripts do it).

interface Owner {
  uid: number;
  gid: number;
}

let mailOwnerCache: Owner | undefined;

function mailOwner(): Owner {
  if (mailOwnerCache) return mailOwnerCache;
  const idOf = (file: string, name: string): number => {
    const line = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (!line) throw new Error(`no '${name}' in ${file}`);
    return Number(line.split(':')[2]);
  };
  mailOwnerCache = { uid: idOf('/etc/passwd', 'nobody'), gid: idOf('/etc/group', 'nogroup') };
  return mailOwnerCache;
}

// Maildir names "<sec>.M<usec>P<pid>Q<n>.<host>" (maildir(5) style). Dovecot gives new files their
// UIDs in the order of the time in the name, so a strictly increasing stamp keeps injection order.
let lastStampUs = 0;
let injectSeq = 0;

function nextMaildirName(): string {
  lastStampUs = Math.max(lastStampUs + 1, Math.floor(Date.now() * 1000));
  const sec = Math.floor(lastStampUs / 1e6);
  const usec = String(lastStampUs % 1e6).padStart(6, '0');
  injectSeq += 1;
  return `${sec}.M${usec}P${process.pid}Q${injectSeq}.hotbridge-lab`;
}

function checkUserName(user: string): string {
  // Dovecot lowercases login names (auth_username_format = %Lu); the maildir uses the lowercased name.
  const name = user.toLowerCase();
  if (name === '' || name.includes('/') || name.startsWith('.') || /[:\s]/.test(name)) {
    throw new Error(`bad lab user name: ${JSON.stringify(user)}`);
  }
  return name;
}

async function mkdirOwned(dir: string, owner: Owner): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  await fsp.chown(dir, owner.uid, owner.gid);
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// Rewrites a Dovecot passwd-file so that Dovecot's stat check sees it changed: a line of the same
// length written within the same second would otherwise go unnoticed (it compares mtime and size).
async function rewriteWatchedFile(file: string, lines: string[]): Promise<void> {
  const before = await fsp.stat(file);
  await fsp.writeFile(file, lines.map((l) => `${l}\n`).join(''), { mode: 0o644 });
  const mtimeSec = Math.max(Math.floor(Date.now() / 1000), Math.floor(before.mtimeMs / 1000) + 1);
  await fsp.utimes(file, mtimeSec, mtimeSec);
  await new Promise((r) => setTimeout(r, DOVECOT_FILE_CHECK_MS));
}

async function readLines(file: string): Promise<string[]> {
  return (await fsp.readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
}

// ---------------------------------------------------------------------------------------------
// Postfix trace headers

/**
 * Removes the header lines Postfix's delivery prepended to a captured message: Return-Path,
 * X-Original-To, Delivered-To (virtual(8)) and the Received line of the lab's own smtpd, each with
 * its folded continuation lines. Headers that came with the submitted message are left alone.
 * Note the captured file has LF line ends (maildir); compare with toCrlf() of the result when the
 * message was submitted with CRLF, as SMTP requires.
 */
export function stripPostfixTrace(raw: Buffer): Buffer {
  let offset = 0;
  const fieldEnd = (start: number): number => {
    // End of a header field: after its line break, plus any continuation lines (RFC 5322 2.2.3).
    let pos = start;
    for (;;) {
      const nl = raw.indexOf(0x0a, pos);
      if (nl < 0) return raw.length;
      pos = nl + 1;
      if (pos >= raw.length || (raw[pos] !== 0x20 && raw[pos] !== 0x09)) return pos;
    }
  };
  const take = (name: string, mustContain?: string): void => {
    if (offset >= raw.length) return;
    const end = fieldEnd(offset);
    const field = raw.subarray(offset, end).toString('latin1');
    if (!field.toLowerCase().startsWith(`${name.toLowerCase()}:`)) return;
    if (mustContain !== undefined && !field.includes(mustContain)) return;
    offset = end;
  };
  take('Return-Path');
  take('X-Original-To');
  take('Delivered-To');
  take('Received', 'by smtp.upstream-lab.test (Postfix)');
  return raw.subarray(offset);
}

// ---------------------------------------------------------------------------------------------
// OAuth2 introspection endpoint (RFC 7662) for Dovecot's oauth2 passdb

interface TokenInfo {
  username: string;
  active: boolean;
}

interface Introspection {
  server: http.Server;
  port: number;
  tokens: Map<string, TokenInfo>;
  requests: () => number;
  failWith: { status: number | undefined };
}

function startIntrospection(): Promise<Introspection> {
  const tokens = new Map<string, TokenInfo>();
  let requests = 0;
  const failWith: { status: number | undefined } = { status: undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests += 1;
      if (failWith.status !== undefined) {
        res.writeHead(failWith.status);
        res.end();
        return;
      }
      // Dovecot (introspection_mode = post) sends token=<bearer> form-encoded (RFC 7662 section 2.1).
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '';
      const info = req.method === 'POST' && req.url === '/introspect' ? tokens.get(token) : undefined;
      // RFC 7662 section 2.2: an inactive or unknown token gets only {"active": false}.
      const reply =
        info && info.active
          ? { active: true, username: info.username, token_type: 'Bearer', exp: Math.floor(Date.now() / 1000) + 3600 }
          : { active: false };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(reply));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('introspection endpoint has no port'));
      resolve({ server, port: address.port, tokens, requests: () => requests, failWith });
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// Crash safety: a worker that dies without afterAll must not leave daemons behind. On exit we can
// only act synchronously, so the masters get SIGTERM (they take their children down) and no wait.

const runningLabDirs = new Set<string>();

function masterPid(pidFile: string, exeMatch: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').replace(/[^0-9]/g, ''));
    if (!pid) return undefined;
    return fs.readlinkSync(`/proc/${pid}/exe`).includes(exeMatch) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function killLabSync(dir: string): void {
  for (const [pidFile, exe] of [
    [path.join(dir, 'postfix/queue/pid/master.pid'), 'postfix'],
    [path.join(dir, 'dovecot/run/master.pid'), 'dovecot'],
  ] as const) {
    const pid = masterPid(pidFile, exe);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  }
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of runningLabDirs) killLabSync(dir);
  });
}

async function stopServers(dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const script of ['stop-postfix.sh', 'stop-dovecot.sh']) {
    try {
      await runScript(script, [dir]);
    } catch (err) {
      problems.push(`${(err as Error).message}: ${(err as ScriptError).stderr ?? ''}`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// startLab

interface Started {
  dir: string;
  env: Map<string, string>;
}

async function startServers(opts: LabOptions, oauth2Port: number): Promise<Started> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const dir = await fsp.mkdtemp(path.join(LAB_PARENT_DIR, 'hotbridge-lab-'));
    const [pop3, pop3s, smtp, imap] = await freePorts(4);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LAB_POP3_PORT: String(pop3),
      LAB_POP3S_PORT: String(pop3s),
      LAB_SMTP_PORT: String(smtp),
      LAB_OAUTH2_PORT: String(oauth2Port),
    };
    if (opts.imap) env.LAB_IMAP_PORT = String(imap);
    else delete env.LAB_IMAP_PORT;
    const script = opts.smtp ? 'start-postfix.sh' : 'start-dovecot.sh';
    runningLabDirs.add(dir);
    try {
      const { stdout } = await runScript(script, [dir], env);
      return { dir, env: parseEnv(stdout) };
    } catch (err) {
      const stderr = (err as ScriptError).stderr ?? '';
      await stopServers(dir);
      runningLabDirs.delete(dir);
      const logs =
        `--- ${script} stderr ---\n${stderr.trim()}\n` +
        `--- ${dir}/dovecot/dovecot.log (tail) ---\n${await tail(path.join(dir, 'dovecot/dovecot.log'), 15)}\n` +
        (opts.smtp ? `--- ${dir}/postfix/postfix.log (tail) ---\n${await tail(path.join(dir, 'postfix/postfix.log'), 15)}\n` : '');
      lastError = new Error(
        `upstream lab could not be started: ${(err as Error).message}. The lab dir is kept for inspection: ${dir}` +
          ` (logs: ${dir}/dovecot/dovecot.log${opts.smtp ? `, ${dir}/postfix/postfix.log` : ''}).` +
          (process.env.CI === 'true' ? ' CI=true: integration tests need the lab and fail without it.' : '') +
          `\n${logs}`,
      );
      // Another process may have taken one of our ports between freePorts() and the bind: new ports.
      if (!/already in use|did not open port|Address already in use/.test(logs)) break;
    }
  }
  throw lastError ?? new Error('upstream lab could not be started');
}

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  installExitHook();
  const introspection = opts.oauth ? await startIntrospection() : undefined;
  let started: Started;
  try {
    started = await startServers(opts, introspection ? introspection.port : (await freePorts(1))[0]);
  } catch (err) {
    if (introspection) await closeServer(introspection.server);
    throw err;
  }
  const { dir, env } = started;
  const need = (key: string): string => {
    const value = env.get(key);
    if (value === undefined || value === '') throw new Error(`lab.env of ${dir} has no ${key}`);
    return value;
  };
  const caFile = need('LAB_CA_CERT');
  const captureDir = need('LAB_CAPTURE_DIR');
  const usersFile = path.join(dir, 'dovecot/users');
  const deniedFile = path.join(dir, 'dovecot/denied-users');
  const mailRoot = path.join(dir, 'dovecot/mail');
  const owner = mailOwner();
  const maildirOf = (user: string): string => path.join(mailRoot, checkUserName(user), 'Maildir');

  const prepareMaildir = async (user: string): Promise<string> => {
    const md = maildirOf(user);
    await mkdirOwned(path.dirname(md), owner);
    await mkdirOwned(md, owner);
    for (const sub of ['tmp', 'new', 'cur']) await mkdirOwned(path.join(md, sub), owner);
    return md;
  };
  // maildir(5) delivery: write under tmp/, then rename into new/, so no reader sees half a message.
  const deliver = async (md: string, raw: Buffer, name: string): Promise<void> => {
    const tmp = path.join(md, 'tmp', name);
    await fsp.writeFile(tmp, raw, { mode: 0o600 });
    await fsp.chown(tmp, owner.uid, owner.gid);
    await fsp.rename(tmp, path.join(md, 'new', name));
  };

  const readCaptured = async (): Promise<CapturedMessage[]> => {
    const newDir = path.join(captureDir, 'new');
    const names = await listFiles(newDir);
    // Postfix names them "<sec>.V<dev>I<inode>M<usec>.<host>": order by time, not by name.
    const key = (n: string): [number, number] => {
      const m = /^(\d+)\..*M(\d+)\./.exec(n);
      return m ? [Number(m[1]), Number(m[2])] : [0, 0];
    };
    names.sort((a, b) => {
      const [as, au] = key(a);
      const [bs, bu] = key(b);
      return as - bs || au - bu || (a < b ? -1 : a > b ? 1 : 0);
    });
    const out: CapturedMessage[] = [];
    for (const n of names) {
      const file = path.join(newDir, n);
      try {
        out.push({ file, raw: await fsp.readFile(file) });
      } catch (err) {
        // removed by clearCaptured() meanwhile
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  };

  const requireOAuth = (): Introspection => {
    if (!introspection) throw new Error('this lab runs no introspection endpoint: use startLab({ oauth: true })');
    return introspection;
  };

  let stopping: Promise<void> | undefined;
  const imapPort = opts.imap ? Number(need('LAB_IMAP_PORT')) : undefined;

  const lab: Lab = {
    dir,
    host: env.get('LAB_HOST') ?? HOST,
    strictHost: env.get('LAB_STRICT_HOST') ?? STRICT_HOST,
    pop3Port: Number(need('LAB_POP3_PORT')),
    pop3sPort: Number(need('LAB_POP3S_PORT')),
    smtpPort: Number(need('LAB_SMTP_PORT')),
    ...(imapPort !== undefined ? { imapPort } : {}),
    oauth2Port: Number(need('LAB_OAUTH2_PORT')),
    caFile,
    ca: await fsp.readFile(caFile),
    captureDir,

    async injectMessage(user, raw) {
      await deliver(await prepareMaildir(user), raw, nextMaildirName());
    },

    async injectMessages(user, raws) {
      const md = await prepareMaildir(user);
      // Names are taken in array order up front; the writes then run in parallel.
      const names = raws.map(() => nextMaildirName());
      await mapLimit(raws, 32, (raw, i) => deliver(md, raw, names[i]));
    },

    async maildirCount(user) {
      const md = maildirOf(user);
      return (await listFiles(path.join(md, 'new'))).length + (await listFiles(path.join(md, 'cur'))).length;
    },

    async clearMaildir(user) {
      const md = maildirOf(user);
      for (const sub of ['new', 'cur', 'tmp']) {
        const names = await listFiles(path.join(md, sub));
        await mapLimit(names, 32, (n) => fsp.rm(path.join(md, sub, n), { force: true }));
      }
    },

    async addUser(user, password) {
      const name = checkUserName(user);
      if (/[:\r\n]/.test(password)) throw new Error('lab passwords cannot contain ":" or line breaks (passwd-file format)');
      const lines = (await readLines(usersFile)).filter((l) => !l.toLowerCase().startsWith(`${name}:`));
      lines.push(`${name}:{PLAIN}${password}`);
      await rewriteWatchedFile(usersFile, lines);
    },

    async setDenied(user, denied) {
      const name = checkUserName(user);
      const lines = (await readLines(deniedFile)).filter((l) => l.trim().toLowerCase() !== name);
      if (denied) lines.push(name);
      await rewriteWatchedFile(deniedFile, lines);
    },

    async setSmtpMode(mode) {
      if (!opts.smtp) throw new Error('this lab runs no Postfix: use startLab({ smtp: true })');
      await runScript('set-smtp-mode.sh', [dir, mode]);
    },

    captured: readCaptured,

    async waitForCaptured(count, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const messages = await readCaptured();
        if (messages.length >= count) return messages;
        if (Date.now() >= deadline) {
          throw new Error(
            `waitForCaptured: ${messages.length} of ${count} messages in ${captureDir}/new after ${timeoutMs} ms ` +
              `(see ${dir}/postfix/postfix.log)`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },

    async clearCaptured() {
      for (const sub of ['new', 'cur']) {
        const names = await listFiles(path.join(captureDir, sub));
        await Promise.all(names.map((n) => fsp.rm(path.join(captureDir, sub, n), { force: true })));
      }
    },

    setToken(token, username, active = true) {
      requireOAuth().tokens.set(token, { username, active });
    },

    revokeToken(token) {
      requireOAuth().tokens.delete(token);
    },

    setIntrospectionFailure(httpStatus) {
      requireOAuth().failWith.status = httpStatus;
    },

    introspectionCount() {
      return requireOAuth().requests();
    },

    stop() {
      stopping ??= (async () => {
        const problems = await stopServers(dir);
        if (introspection) await closeServer(introspection.server);
        // A server that would not stop still uses the dir: keep it (and its logs) then.
        if (problems.length > 0) throw new Error(`stopping the lab in ${dir} failed, dir kept: ${problems.join('; ')}`);
        runningLabDirs.delete(dir);
        await fsp.rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  return lab;
}
