// @ts-check
// One store-safety command of bench/store-safety.bench.ts in a fresh process running the compiled code
// (dist/), opened as `hotbridge backup|restore|export|verify` open it: it prints its time and its peak RSS.
import fs from 'node:fs';
import { exportStore, ONE_PASS_TABLES, restoreArchive, Store, verifyStoreAt } from '../../dist/store/index.js';

const [what, dataDir, target, format] = process.argv.slice(2);
const started = performance.now();
/** @type {string} */
let detail;
if (what === 'backup') {
  const store = await Store.open(dataDir, { maxOpenTables: ONE_PASS_TABLES });
  const report = await store.backup(target, {}, { exclusive: true });
  await store.close();
  detail = `${report.messages} messages, ${(report.bytes / 1048576).toFixed(0)} MB archive`;
} else if (what === 'restore') {
  const report = await restoreArchive(dataDir, target);
  detail = `${report.verify.counts.messages} messages, verified`;
} else if (what === 'export') {
  const store = await Store.open(dataDir, { maxOpenTables: ONE_PASS_TABLES });
  fs.rmSync(target, { recursive: true, force: true });
  const report = await exportStore(store, target, { format: /** @type {'mbox' | 'maildir'} */ (format), exclusive: true });
  await store.close();
  detail = `${report.messages} messages, ${(report.bytes / 1048576).toFixed(0)} MB`;
} else if (what === 'verify') {
  const report = await verifyStoreAt(dataDir, { quick: format === 'quick' });
  detail = `${report.counts.messages} messages, ${report.ok ? 'whole' : `${report.problems.length} problems`}`;
} else {
  throw new Error(`unknown command ${what}`);
}
const seconds = (performance.now() - started) / 1000;
/**
 * This process's own peak RSS in MB. Not getrusage's maxRSS: Linux carries the forking parent's peak across
 * execve into it, so every command would show the benchmark's own 200+ MB. VmHWM belongs to this process's
 * memory map, which execve made new.
 */
function peakRssMb() {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux: getrusage below
  }
  return process.resourceUsage().maxRSS / 1024;
}
console.log(JSON.stringify({ seconds, peakRssMb: peakRssMb(), detail }));
