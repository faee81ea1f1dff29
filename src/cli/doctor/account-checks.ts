/**
 * The checks of one account, in the order a connection is made: the POP3 and SMTP servers (name, port,
 * TLS), the credentials (password file or Microsoft sign-in), the POP3 login and whether POP is switched
 * on at the provider, the SMTP login. Each step that fails stops the steps that depend on it, and says
 * why they were not tried. Nothing here changes the mailbox: POP3 gets STAT and QUIT, SMTP only AUTH.
 */
import fs from 'node:fs';
import net from 'node:net';
import nodemailer from 'nodemailer';
import { PRESETS } from '../../config/presets.js';
import type { AccountConfig, HotbridgeConfig, UpstreamServer } from '../../config/types.js';
import { silentLogger } from '../../runtime/logger.js';
import { CredentialError, PasswordFileSource, type UpstreamLogin } from '../../upstream/credentials.js';
import { accountCredentials } from '../../upstream/account-credentials.js';
import { TokenFileError, TokenStore } from '../../upstream/oauth/token-store.js';
import { Pop3Client } from '../../upstream/pop3/client.js';
import { Pop3Error } from '../../upstream/pop3/errors.js';
import { transportOptions, trustContext } from '../../upstream/smtp/relay.js';
import type { TimeSample } from './clock.js';
import { classifyTlsError, ProbeError, probeServer, resolveHost, type Protocol } from './network.js';
import { fail, info, ok, type CheckResult, type DoctorReport } from './report.js';

/** Doctor checks are interactive: a dead server should not keep the user waiting a minute per step. */
const MAX_STEP_MS = 15_000;

export interface AccountCheckContext {
  config: HotbridgeConfig;
  account: AccountConfig;
  index: number;
  report: DoctorReport;
  /** Whether a hotbridge daemon of this data dir is running (it then owns the token refresh). */
  daemonRunning: boolean;
  clock: TimeSample[];
  /** Set when a certificate was verified, for the clock line. */
  certificatesChecked: { value: boolean };
}

function popHelpOf(account: AccountConfig): string | undefined {
  return PRESETS[account.provider]?.popHelp;
}

/** "Outlook.com" for the Outlook preset, else the preset's label or the POP3 host. */
function providerName(account: AccountConfig): string {
  return account.provider === 'outlook' ? 'Outlook.com' : (PRESETS[account.provider]?.label ?? account.pop3.host);
}

/**
 * Exchange's answers for a mailbox whose POP is off: the login goes through and every command after it
 * is refused ("User is authenticated but not connected"), or the login itself fails although the token is good.
 */
export const POP_OFF_AFTER_LOGIN = /authenticated but not connected/i;

/** "POP is off at Outlook.com: switch it on at Outlook.com → Settings → …". */
export function popOffAdvice(account: AccountConfig): string | undefined {
  const help = popHelpOf(account);
  return help ? `POP is off at ${providerName(account)}: switch it on at ${help}` : undefined;
}

function isMicrosoft(account: AccountConfig): boolean {
  return account.provider === 'outlook' || /(^|\.)(outlook\.office365\.com|outlook\.com|office365\.com)$/i.test(account.pop3.host);
}

function tlsFix(where: string, server: UpstreamServer, kind: ReturnType<typeof classifyTlsError>, protocol: Protocol): string {
  switch (kind) {
    case 'untrusted':
      return server.caFile
        ? `${where}.ca_file (${server.caFile}) is not the CA that signed this certificate: point it at the right CA certificate (PEM)`
        : `if ${server.host} uses its own CA, save that CA certificate as PEM and set ${where}.ca_file to it;\nfor a big provider this means something between you and it intercepts TLS (a proxy or an antivirus)`;
    case 'wrong-name':
      return `${where}.host must be a name the certificate is for (the provider's help pages give the exact server name)`;
    case 'expired':
    case 'not-yet-valid':
      return `check this computer's date, time and time zone first (now: ${new Date().toISOString()}); if they are right, the provider's certificate is at fault`;
    case 'not-tls': {
      const implicitPort = protocol === 'pop3' ? 995 : 465;
      const startPort = protocol === 'pop3' ? 110 : 587;
      return `port ${server.port} does not speak TLS at once: use tls = "starttls" with port ${startPort}, or tls = "implicit" with port ${implicitPort} (in [${where}])`;
    }
    default:
      return `check ${where}.port and ${where}.tls (implicit for ${protocol === 'pop3' ? 995 : 465}, starttls for ${protocol === 'pop3' ? 110 : 587})`;
  }
}

/** DNS, TCP and TLS of one server; true when a login can be tried. */
async function checkServer(ctx: AccountCheckContext, protocol: Protocol, server: UpstreamServer): Promise<boolean> {
  const { report } = ctx;
  const label = protocol === 'pop3' ? 'POP3' : 'SMTP';
  const where = `accounts[${ctx.index}].${protocol}`;
  const timeoutMs = Math.min(server.timeoutMs, MAX_STEP_MS);
  try {
    // An address needs no DNS; a name gets its own line, so a typo is told apart from a closed port.
    if (net.isIP(server.host) === 0) {
      const addresses = await resolveHost(server.host);
      report.add(ok(`${label} server ${server.host} is found (${addresses.slice(0, 2).join(', ')}${addresses.length > 2 ? ', …' : ''})`));
    }
  } catch (err) {
    report.add(
      fail(
        `${label} server ${(err as Error).message}`,
        `check the spelling of ${where}.host in ${ctx.config.file}, and that this computer is online (try: ping ${server.host})`,
      ),
    );
    return false;
  }
  let ca: Buffer | undefined;
  if (server.caFile) {
    try {
      ca = fs.readFileSync(server.caFile);
    } catch (err) {
      report.add(
        fail(
          `${label}: cannot read ${where}.ca_file ${server.caFile} (${(err as NodeJS.ErrnoException).code})`,
          'fix the path or the file permissions',
        ),
      );
      return false;
    }
  }
  let connected = false;
  try {
    const probe = await probeServer({ host: server.host, port: server.port, tls: server.tls, protocol, ca, timeoutMs }, () => {
      connected = true;
      report.add(ok(`${label} server ${server.host}:${server.port} answers`));
    });
    if (!probe) {
      report.add(info(`${label} without TLS (tls = "none", allowed for a loopback host only)`));
      return true;
    }
    ctx.certificatesChecked.value = true;
    if (probe.serverDate)
      ctx.clock.push({
        source: `${server.host} (${label} greeting)`,
        serverTime: probe.serverDate.date,
        localTime: probe.serverDate.at,
        resolutionMs: 1000,
      });
    const until = probe.validTo.toISOString().slice(0, 10);
    report.add(
      ok(
        `${label} TLS${server.tls === 'starttls' ? ' (STARTTLS)' : ''}: ${probe.protocol}, certificate for ${probe.subject} verified (issued by ${probe.issuer}, valid until ${until})`,
      ),
    );
    return true;
  } catch (err) {
    const probeError = err instanceof ProbeError ? err : new ProbeError('tcp', (err as Error).message);
    if (!connected) {
      const fix =
        probeError.code === 'ECONNREFUSED'
          ? `check ${where}.port (${protocol === 'pop3' ? 'POP3 with TLS is 995' : 'SMTP submission is 587 (STARTTLS) or 465 (TLS)'})`
          : `a firewall or this network may block port ${server.port}; try another network, or ask whoever runs this one`;
      report.add(fail(`${label} server ${probeError.message}`, fix));
      return false;
    }
    if (probeError.step === 'tls') {
      const kind = classifyTlsError(probeError.code, probeError.message);
      const what =
        kind === 'untrusted'
          ? `the certificate of ${server.host} is not signed by a CA this computer trusts (${probeError.code})`
          : kind === 'wrong-name'
            ? `the certificate is not for ${server.host} (${probeError.message})`
            : kind === 'expired'
              ? `the certificate of ${server.host} has expired, by this computer's clock`
              : kind === 'not-yet-valid'
                ? `the certificate of ${server.host} is not valid yet, by this computer's clock`
                : kind === 'not-tls'
                  ? `port ${server.port} did not answer in TLS`
                  : `the TLS handshake failed: ${probeError.message}`;
      report.add(fail(`${label} TLS: ${what}`, tlsFix(where, server, kind, protocol)));
      return false;
    }
    if (probeError.step === 'starttls') {
      report.add(
        fail(
          `${label} TLS: ${probeError.message}`,
          `hotbridge never logs in without TLS: use the provider's TLS port (${where}.tls = "implicit", port ${protocol === 'pop3' ? 995 : 465})`,
        ),
      );
      return false;
    }
    report.add(fail(`${label}: ${probeError.message}`, `check that ${where}.host and .port are the provider's ${label} server`));
    return false;
  }
}

type Credentials = { login: UpstreamLogin } | { skipped: CheckResult };

/** The password from password_file, or the Microsoft access token (refreshed when needed and allowed). */
async function credentials(ctx: AccountCheckContext): Promise<Credentials> {
  const { account, config, index } = ctx;
  const auth = account.auth;
  if (auth.method === 'password') {
    try {
      return { login: await new PasswordFileSource(auth.user, auth.passwordFile).get() };
    } catch (err) {
      if (!(err instanceof CredentialError)) throw err;
      return {
        skipped: fail(
          err.message,
          `put the provider password, on one line, in a file only you can read (chmod 600), and name it in [accounts.auth] password_file (accounts[${index}] of ${config.file})`,
        ),
      };
    }
  }
  if (!auth.clientId) {
    return {
      skipped: fail(
        'no client_id for the Microsoft sign-in',
        `set client_id in [accounts.auth] of ${config.file} (hotbridge setup and hotbridge login ${account.address} explain the choice)`,
      ),
    };
  }
  const store = new TokenStore(config.dataDir);
  let saved;
  try {
    saved = store.load(account.address);
  } catch (err) {
    if (!(err instanceof TokenFileError)) throw err;
    return { skipped: fail(err.message, `sign in again: hotbridge login ${account.address}`) };
  }
  if (!saved) return { skipped: fail('not signed in with Microsoft yet', `hotbridge login ${account.address}`) };
  const leftMs = saved.expiresAt - Date.now();
  if (leftMs > 60_000) {
    ctx.report.add(ok(`signed in with Microsoft (the access token is good for ${Math.round(leftMs / 60_000)} more minutes)`));
    return { login: { kind: 'xoauth2', user: auth.user, accessToken: saved.accessToken } };
  }
  if (ctx.daemonRunning) {
    // Microsoft rotates the refresh token on every refresh; two processes refreshing would cost the sign-in.
    return {
      skipped: info(
        'the access token has expired and the running daemon renews it itself: logins not tried now',
        'run hotbridge doctor again in a minute, or see: hotbridge status',
      ),
    };
  }
  const source = accountCredentials(account, { dataDir: config.dataDir, logger: silentLogger(), refreshAheadMs: 60_000 });
  try {
    const login = await source.get();
    ctx.report.add(ok('signed in with Microsoft (the access token was renewed just now)'));
    return { login };
  } catch (err) {
    if (err instanceof CredentialError && err.reason === 'signin-needed') {
      return { skipped: fail('the Microsoft sign-in has expired or was revoked', `hotbridge login ${account.address}`) };
    }
    return {
      skipped: fail(`cannot renew the Microsoft sign-in: ${(err as Error).message}`, 'check that this computer is online, then try again'),
    };
  }
}

function pop3LoginFix(ctx: AccountCheckContext, err: Pop3Error): string {
  const { account, config } = ctx;
  const popHelp = popHelpOf(account);
  if (err.temporary) {
    return `the provider is busy or throttling${err.code === 'IN-USE' ? ' (or hotbridge itself is downloading right now)' : ''}: try again in a few minutes`;
  }
  if (account.auth.method === 'password') {
    if (isMicrosoft(account)) {
      return `Outlook.com takes no passwords for POP3 since September 2024: set method = "oauth2" and a client_id in [accounts.auth] of ${config.file}, then: hotbridge login ${account.address}`;
    }
    return (
      `check the password in ${account.auth.passwordFile ?? 'password_file'} (one line) and the user name (${account.auth.user})` +
      (popHelp ? `;\nand that POP is switched on: ${popHelp}` : '')
    );
  }
  // The token itself is good (Microsoft issued it); a refusal of it by POP3 almost always means POP is off.
  const popOff = popOffAdvice(account);
  return (
    (popOff ? `${popOff.replace(/^POP is off/, 'POP is probably off')}\n` : '') +
    `if it is on already, sign in again: hotbridge login ${account.address}`
  );
}

/** POP3 login, then STAT (which shows whether POP is really on); changes nothing on the server. */
export async function checkPop3Login(ctx: AccountCheckContext, login: UpstreamLogin): Promise<void> {
  const { account, report } = ctx;
  const server = account.pop3;
  let client: Pop3Client | undefined;
  try {
    client = await Pop3Client.connect({
      host: server.host,
      port: server.port,
      tls: server.tls,
      ...(server.caFile ? { ca: fs.readFileSync(server.caFile) } : {}),
      timeoutMs: Math.min(server.timeoutMs, MAX_STEP_MS),
    });
    if (login.kind === 'password') await client.loginPassword(login.user, login.password);
    else await client.loginXoauth2(login.user, login.accessToken);
  } catch (err) {
    client?.close();
    if (!(err instanceof Pop3Error)) throw err;
    const text = err.serverText ? `: ${err.serverText}` : `: ${err.message}`;
    report.add(fail(`POP3 login as ${login.user} refused${text}`, pop3LoginFix(ctx, err)));
    return;
  }
  report.add(ok(`POP3 login as ${login.user}`));
  // Exchange accepts the login of a mailbox whose POP is off, then refuses every command.
  try {
    const { count, size } = await client.stat();
    report.add(ok(`POP is on at the provider (${count} message${count === 1 ? '' : 's'}, ${Math.round(size / 1024)} KB waiting there)`));
    await client.quit().catch(() => undefined);
  } catch (err) {
    client.close();
    if (!(err instanceof Pop3Error)) throw err;
    const said = err.serverText ?? err.message;
    const popOff = popOffAdvice(account);
    if (popOff && POP_OFF_AFTER_LOGIN.test(said)) {
      const [title, fix] = popOff.split(': switch ');
      report.add(fail(`${title} (it answered: ${said})`, `switch ${fix}`));
    } else {
      report.add(
        fail(
          `POP does not work for this mailbox: ${said}`,
          popOff ?? `ask ${account.pop3.host}'s provider to enable POP access for the mailbox`,
        ),
      );
    }
  }
}

function smtpLoginFix(ctx: AccountCheckContext, reply: string): string {
  const { account, config } = ctx;
  if (/basic authentication is disabled/i.test(reply) || (account.auth.method === 'password' && isMicrosoft(account))) {
    return `Outlook.com takes no passwords for SMTP any more: set method = "oauth2" and a client_id in [accounts.auth] of ${config.file}, then: hotbridge login ${account.address}`;
  }
  if (SMTP_AUTH_DISABLED.test(reply)) return SMTP_AUTH_DISABLED_FIX;
  if (account.auth.method === 'oauth2') return `sign in again: hotbridge login ${account.address}`;
  return `check the password in ${account.auth.passwordFile ?? 'password_file'} and the user name (${account.auth.user})`;
}

/**
 * Microsoft refuses SMTP AUTH for a mailbox (or a whole tenant) where it is switched off, while POP works:
 * `535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox`.
 */
export const SMTP_AUTH_DISABLED = /SmtpClientAuthentication is disabled/i;
export const SMTP_AUTH_DISABLED_FIX =
  'receiving works, but Microsoft has sending by SMTP switched off for this mailbox. A work or school mailbox: ask its admin to allow "Authenticated SMTP" ' +
  '(Microsoft 365 admin center → Users → Active users → the user → Mail → Manage email apps). A personal Outlook.com account has no switch for it: ' +
  'mail you send waits in the outbox and goes out if Microsoft allows it later; send from outlook.com meanwhile';

/** SMTP AUTH only (nodemailer's verify: EHLO, STARTTLS, AUTH, QUIT): no mail is sent. */
export async function checkSmtpLogin(ctx: AccountCheckContext, login: UpstreamLogin): Promise<void> {
  const server = ctx.account.smtp;
  // The relay's own transport options, so the doctor logs in exactly as the outbox worker will.
  const transport = nodemailer.createTransport(
    transportOptions({ ...server, timeoutMs: Math.min(server.timeoutMs, MAX_STEP_MS) }, login, await trustContext(server.caFile)),
  );
  try {
    await transport.verify();
    ctx.report.add(ok(`SMTP login as ${login.user}`));
  } catch (err) {
    const e = err as { code?: string; response?: string; message: string };
    const reply = e.response ?? e.message;
    if (SMTP_AUTH_DISABLED.test(reply))
      ctx.report.add(
        fail(`SMTP login as ${login.user} refused: sending by SMTP is switched off for this mailbox (${reply})`, smtpLoginFix(ctx, reply)),
      );
    else if (e.code === 'EAUTH' || /^5\d\d/.test(reply))
      ctx.report.add(fail(`SMTP login as ${login.user} refused: ${reply}`, smtpLoginFix(ctx, reply)));
    else
      ctx.report.add(
        fail(
          `SMTP login as ${login.user} failed: ${reply}`,
          'try again in a few minutes; if it keeps failing, check [accounts.smtp] in the config',
        ),
      );
  } finally {
    transport.close();
  }
}

/** Runs every check of one account, printing as it goes. */
export async function checkAccount(ctx: AccountCheckContext): Promise<void> {
  const pop3Ready = await checkServer(ctx, 'pop3', ctx.account.pop3);
  const smtpReady = await checkServer(ctx, 'smtp', ctx.account.smtp);
  const creds = await credentials(ctx);
  if ('skipped' in creds) {
    ctx.report.add(creds.skipped);
    ctx.report.add(info('POP3 and SMTP logins not tried (no credentials)'));
    return;
  }
  if (pop3Ready) await checkPop3Login(ctx, creds.login);
  else ctx.report.add(info('POP3 login not tried (the server cannot be reached safely)'));
  if (smtpReady) await checkSmtpLogin(ctx, creds.login);
  else ctx.report.add(info('SMTP login not tried (the server cannot be reached safely)'));
}
