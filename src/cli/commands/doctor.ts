/**
 * `hotbridge doctor`: checks everything between the mail client and the provider, one line each with ✓ or
 * ✗ and, for ✗, what to do: the config, the local ports, each account's servers (name, port, TLS and
 * certificate), the sign-in, the POP3 login and whether POP is on at the provider, the SMTP login, the
 * local password, and the clock. Exits 1 when a check fails, 0 otherwise. It changes nothing anywhere.
 */
import { ConfigError, loadConfig } from '../../config/load.js';
import type { HotbridgeConfig, ListenAddress } from '../../config/types.js';
import { PRESETS } from '../../config/presets.js';
import { fetchStatus } from '../../daemon/status-endpoint.js';
import { LocalPasswords } from '../../runtime/local-passwords.js';
import { configFileFrom } from '../config-option.js';
import { checkAccount } from '../doctor/account-checks.js';
import { clockResult, httpDate, type TimeSample } from '../doctor/clock.js';
import { checkListenAddress, type RunningDaemon } from '../doctor/local-ports.js';
import fs from 'node:fs';
import { dataDirProblem } from '../../runtime/data-dir.js';
import { DoctorReport, fail, info, ok, type CheckResult } from '../doctor/report.js';
import { checkStore } from '../doctor/store-checks.js';

function addressesOf(value: unknown): ListenAddress[] {
  if (!Array.isArray(value)) return [];
  return value.filter((entry): entry is ListenAddress => typeof entry?.host === 'string' && typeof entry?.port === 'number');
}

/** The daemon of this data dir, if one answers on its status socket. */
async function runningDaemon(config: HotbridgeConfig): Promise<RunningDaemon | undefined> {
  let snapshot: unknown;
  try {
    snapshot = await fetchStatus(config.dataDir, 3000);
  } catch {
    return undefined;
  }
  if (typeof snapshot !== 'object' || snapshot === null) return undefined;
  const s = snapshot as { daemon?: { pid?: number }; listeners?: Record<string, { addresses?: unknown }> };
  const addresses = Object.values(s.listeners ?? {}).flatMap((listener) => addressesOf(listener?.addresses));
  return { pid: s.daemon?.pid, addresses };
}

/** The Date header of the identity platform, for the clock check (an OAuth2 account talks to it anyway). */
async function authorityTime(authority: string): Promise<TimeSample | undefined> {
  try {
    const response = await fetch(`${authority}/v2.0/.well-known/openid-configuration`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(10_000),
      redirect: 'manual',
    });
    const date = httpDate(response.headers);
    return date ? { source: new URL(authority).host, serverTime: date, localTime: Date.now(), resolutionMs: 1000 } : undefined;
  } catch {
    return undefined;
  }
}

/** The data dir: there and writable, or creatable, or the problem with its fix. */
function dataDirCheck(config: HotbridgeConfig): CheckResult {
  const problem = dataDirProblem(config.dataDir);
  if (problem) {
    const [what, fix] = problem.split('; ');
    return fail(`data dir: ${what}`, fix ?? `set data_dir in ${config.file} to a directory hotbridge can write to`);
  }
  if (!fs.existsSync(config.dataDir)) return info(`data dir ${config.dataDir} does not exist yet; hotbridge creates it when it starts`);
  return ok(`data dir ${config.dataDir} is writable`);
}

export async function runDoctor(options: { config?: string; out: NodeJS.WritableStream }): Promise<number> {
  const report = new DoctorReport(options.out);
  const file = configFileFrom(options.config);
  options.out.write(`hotbridge doctor: ${file}\n\n`);

  let config: HotbridgeConfig;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const missing = err.problems.length === 1 && /no such file/.test(err.problems[0]);
    if (missing) report.add(fail(`no config at ${err.file}`, 'run: hotbridge setup (or pass --config FILE)'));
    else for (const problem of err.problems) report.add(fail(`config: ${problem}`, `edit ${err.file}`));
    options.out.write('\nThe other checks need a working config.\n');
    return 1;
  }
  report.add(
    ok(`config is valid (${config.accounts.length} account${config.accounts.length === 1 ? '' : 's'}, data in ${config.dataDir})`),
  );
  report.add(dataDirCheck(config));

  const daemon = await runningDaemon(config);
  report.add(
    daemon
      ? info(`hotbridge is running${daemon.pid ? ` (pid ${daemon.pid})` : ''}`)
      : info('hotbridge is not running now', 'start it with: hotbridge run (or keep it running: hotbridge service install)'),
  );

  for (const result of await checkStore(config, daemon !== undefined)) report.add(result);

  const listeners: Array<[string, string, ListenAddress[]]> = [
    ['IMAP', '[imap] listen', config.imap.listen],
    ['SMTP', '[smtp] listen', config.smtp.listen],
    ['POP3', '[pop3] listen', config.pop3.listen],
    ['IMAPS', '[imap] tls_listen', config.imap.tlsListen],
    ['POP3S', '[pop3] tls_listen', config.pop3.tlsListen],
    ['SMTPS', '[smtp] tls_listen', config.smtp.tlsListen],
    ['status page', '[status] listen', config.status.listen],
  ];
  for (const [what, key, addresses] of listeners) {
    for (const address of addresses) report.add(await checkListenAddress(what, key, address, config.file, daemon));
  }

  const clock: TimeSample[] = [];
  const certificatesChecked = { value: false };
  const passwords = new LocalPasswords(config.dataDir);
  for (const [index, account] of config.accounts.entries()) {
    const preset = PRESETS[account.provider];
    const how = account.auth.method === 'oauth2' ? 'Microsoft sign-in' : 'password';
    report.heading(`${account.address} (${preset?.label ?? (account.provider === 'custom' ? 'own servers' : account.provider)}, ${how})`);
    await checkAccount({ config, account, index, report, daemonRunning: daemon !== undefined, clock, certificatesChecked });
    if (account.auth.method === 'oauth2') {
      const sample = await authorityTime(account.auth.authority);
      if (sample) clock.push(sample);
    }
    report.add(
      passwords.has(account.address)
        ? ok('a local password for mail clients is set')
        : fail('no local password for mail clients yet', `hotbridge password ${account.address}`),
    );
  }

  options.out.write('\n');
  report.add(clockResult(clock, certificatesChecked.value));
  options.out.write(
    report.failures === 0
      ? '\nAll good.\n'
      : `\n${report.failures} problem${report.failures === 1 ? '' : 's'} found. Fix ${report.failures === 1 ? 'it' : 'them'} and run hotbridge doctor again.\n`,
  );
  return report.failures === 0 ? 0 : 1;
}
