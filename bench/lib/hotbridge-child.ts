/**
 * Starting and asking the hotbridge IMAP server child (bench/lib/imap-server-child.mjs) from a benchmark:
 * the server runs in a process of its own, so that its CPU and RSS figures are its own and the load
 * generator does not share its event loop.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { RssParts } from './smaps.mjs';

const MB = 1024 * 1024;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

/** What the server child reports (bytes); rssAnon/rssFile only on Linux. */
export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  rssAnon?: number;
  rssFile?: number;
  /** What the RSS is made of (Linux; a child of an older checkout does not say). */
  parts?: RssParts;
}

export function formatMemory(m: Memory): string {
  if (m.parts) {
    const p = m.parts;
    const n = (bytes: number) => (bytes / MB).toFixed(0);
    const anon = p.v8Heap !== undefined ? `anon ${n(p.anon)} (V8 heap ${n(p.v8Heap)}, other ${n(p.anon - p.v8Heap)})` : `anon ${n(p.anon)}`;
    return (
      `RSS ${mb(p.rss)} = node binary ${n(p.nodeBinary)} + libraries ${n(p.libraries)} + LevelDB tables ${n(p.levelTables)} + other files ${n(p.otherFiles)} + ${anon}` +
      ` (heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, external ${mb(m.external)})`
    );
  }
  const split = m.rssAnon !== undefined && m.rssFile !== undefined ? `: anon ${mb(m.rssAnon)} + file ${mb(m.rssFile)}` : '';
  return `RSS ${mb(m.rss)}${split} (heap used ${mb(m.heapUsed)} of ${mb(m.heapTotal)}, external ${mb(m.external)})`;
}

/** RSS that `node --import tsx` costs over plain node (the compiled daemon runs without tsx). */
export function tsxOverhead(): number {
  const probe = 'process.stdout.write(String(process.memoryUsage().rss))';
  const plain = Number(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' }));
  const withTsx = Number(execFileSync(process.execPath, ['--import', 'tsx', '-e', probe], { encoding: 'utf8' }));
  return withTsx - plain;
}

/** Whether dist/ was built after the last change in src/ (what `npm run bench`'s prebench step ensures). */
export function distIsFresh(): boolean {
  const newest = (dir: string): number =>
    fs.readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
      const full = path.join(dir, entry.name);
      return Math.max(max, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
    }, 0);
  try {
    return fs.statSync(path.join(ROOT, 'dist/.build-stamp')).mtimeMs >= newest(path.join(ROOT, 'src'));
  } catch {
    return false;
  }
}

/** The tree the child runs: IMAP_BENCH_SERVER=dist|src, else dist/ when it is fresh. */
export function serverTree(): 'dist' | 'src' {
  return (process.env.IMAP_BENCH_SERVER as 'dist' | 'src' | undefined) ?? (distIsFresh() ? 'dist' : 'src');
}

/** CPU the server process used since it started, in milliseconds. */
export interface CpuTime {
  user: number;
  system: number;
  /** The event loop's thread alone (Linux): without LevelDB's background compaction and the thread pool. */
  mainThread?: number;
}

export interface HotbridgeChild {
  port: number;
  pid: number;
  /** The server's memory; `gc` forces a full collection first. */
  memory(gc: boolean): Promise<Memory>;
  cpu(): Promise<CpuTime>;
  stop(): Promise<void>;
}

export interface ChildOptions {
  /** IDLE keep-alive interval (the daemon's default is 2 minutes). */
  idleKeepaliveMs?: number;
  /** Passed to node: e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** Another checkout to run the server of (its bench/lib/imap-server-child.mjs and its dist/ or src/). */
  root?: string;
}

/** Starts the server child on a data dir that already holds the store and the local passwords. */
export async function startHotbridge(
  tree: 'dist' | 'src',
  dir: string,
  accounts: string[],
  options: ChildOptions = {},
): Promise<HotbridgeChild> {
  const script = options.root
    ? path.join(options.root, 'bench/lib/imap-server-child.mjs')
    : fileURLToPath(new URL('./imap-server-child.mjs', import.meta.url));
  const loader = tree === 'src' ? ['--import', 'tsx'] : [];
  // IMAP_BENCH_PROFILE=DIR: a V8 CPU profile of the server, written to DIR when it stops (open it in Chrome DevTools).
  const profile = process.env.IMAP_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.IMAP_BENCH_PROFILE}`] : [];
  const flags = [
    '--expose-gc',
    '--max-semi-space-size=2' /* as bin/hotbridge.js runs the daemon */,
    ...profile,
    ...(options.nodeFlags ?? []),
    ...loader,
  ];
  const env = {
    ...process.env,
    MALLOC_ARENA_MAX: '2' /* as bin/hotbridge.js and the systemd units run it */,
    ...(options.idleKeepaliveMs ? { HOTBRIDGE_BENCH_IDLE_KEEPALIVE_MS: String(options.idleKeepaliveMs) } : {}),
  };
  const child: ChildProcess = spawn(process.execPath, [...flags, script, tree, dir, ...accounts], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env,
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      for (const waiter of waiting.splice(0)) waiter.reject(new Error(`hotbridge server child exited (${code})`));
      resolve();
    }),
  );
  const nextLine = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const ask = async (command: string, prefix: string): Promise<string> => {
    child.stdin!.write(`${command}\n`);
    const line = await nextLine();
    if (!line.startsWith(`${prefix} `)) throw new Error(`hotbridge server child said: ${line}`);
    return line.slice(prefix.length + 1);
  };
  const first = await nextLine();
  const port = Number(/^PORT (\d+)$/.exec(first)?.[1]);
  if (!port) throw new Error(`hotbridge server child said: ${first}`);
  return {
    port,
    pid: child.pid!,
    memory: async (gc) => JSON.parse(await ask(gc ? 'gc' : 'rss', 'MEM')) as Memory,
    cpu: async () => JSON.parse(await ask('cpu', 'CPU')) as CpuTime,
    async stop() {
      if (child.exitCode === null) child.stdin!.end('stop\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
