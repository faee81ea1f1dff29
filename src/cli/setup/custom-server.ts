/**
 * The servers of a provider hotbridge has no preset for: asked one at a time, then tried at once, so a
 * typo or a missing CA shows up in the conversation and not in tomorrow's log. How TLS starts on an
 * unusual port is found out by listening: a server that greets in plain text ("+OK", "220") wants
 * STARTTLS; one that stays silent waits for a TLS handshake. When the server's certificate is signed by a
 * CA this computer does not trust, set-up asks for that CA's file and checks it there and then.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TlsMode } from '../../config/presets.js';
import { classifyTlsError, connectTcp, ProbeError, probeServer, type Protocol } from '../doctor/network.js';
import type { ServerAnswer } from './config-text.js';
import type { Terminal } from './terminal.js';

const PORTS: Record<Protocol, { implicit: number; starttls: number }> = {
  pop3: { implicit: 995, starttls: 110 },
  smtp: { implicit: 465, starttls: 587 },
};
const PROBE_MS = 5000;

/** How a port starts TLS, judged by whether the server speaks first in plain text; undefined when it cannot be reached. */
export async function guessTlsMode(host: string, port: number, timeoutMs = 3000): Promise<TlsMode | undefined> {
  let socket;
  try {
    socket = await connectTcp(host, port, timeoutMs);
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    const done = (mode: TlsMode): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(mode);
    };
    // POP3 (RFC 1939 §4) and SMTP (RFC 5321 §4.3.1) servers greet first; a TLS server waits for our hello.
    const timer = setTimeout(() => done('implicit'), timeoutMs);
    socket.once('data', (chunk: Buffer) => done(/^(\+OK|220)/.test(chunk.toString('latin1')) ? 'starttls' : 'implicit'));
    socket.once('error', () => done('implicit'));
  });
}

async function askPort(term: Terminal, label: string, protocol: Protocol): Promise<number> {
  const text = await term.askUntil(
    `  ${label} port`,
    (answer) =>
      /^\d+$/.test(answer) && Number(answer) >= 1 && Number(answer) <= 65535 ? undefined : 'a port number from 1 to 65535, please',
    String(protocol === 'pop3' ? PORTS.pop3.implicit : PORTS.smtp.starttls),
  );
  return Number(text);
}

async function askTls(term: Terminal, label: string, protocol: Protocol, host: string, port: number): Promise<TlsMode> {
  if (port === PORTS[protocol].implicit) return 'implicit';
  if (port === PORTS[protocol].starttls) return 'starttls';
  // An unusual port: listen to it; if it cannot be reached, SMTP submission on another port is nearly
  // always STARTTLS (RFC 6409 §3.1), POP3 on another port more often TLS at once.
  const heard = await guessTlsMode(host, port);
  const suggestion: TlsMode = heard ?? (protocol === 'smtp' ? 'starttls' : 'implicit');
  if (heard)
    term.say(
      `  ${host}:${port} ${heard === 'starttls' ? 'greets in plain text, so it switches to TLS with STARTTLS' : 'waits for TLS at once'}.`,
    );
  const answer = await term.askUntil(
    `  Does ${label} port ${port} use "starttls" (switch to TLS) or "implicit" (TLS at once)?`,
    (text) => (text === 'implicit' || text === 'starttls' ? undefined : 'implicit or starttls, please'),
    suggestion,
  );
  return answer as TlsMode;
}

/**
 * Tries TLS with the server; when its certificate needs a CA this computer lacks, asks for the CA file
 * until one works or the user gives up (Enter). Returns the CA file (absolute), or undefined.
 */
async function checkTrust(
  term: Terminal,
  label: string,
  protocol: Protocol,
  server: ServerAnswer,
  baseDir: string,
): Promise<string | undefined> {
  let caFile = server.caFile;
  for (;;) {
    let ca: Buffer | undefined;
    if (caFile) {
      try {
        ca = fs.readFileSync(caFile);
      } catch (err) {
        term.say(`  Cannot read ${caFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
        caFile = undefined;
      }
    }
    try {
      const probe = await probeServer({
        host: server.host,
        port: server.port,
        tls: server.tls,
        protocol,
        ...(ca ? { ca } : {}),
        timeoutMs: PROBE_MS,
      });
      if (probe)
        term.say(
          `  ✓ ${label} ${server.host}:${server.port}: ${probe.protocol}, certificate for ${probe.subject} verified (issued by ${probe.issuer})`,
        );
      return caFile;
    } catch (err) {
      const e = err instanceof ProbeError ? err : new ProbeError('tcp', (err as Error).message);
      const kind = e.step === 'tls' ? classifyTlsError(e.code, e.message) : 'other';
      if (kind !== 'untrusted') {
        term.say(`  ✗ ${label} ${server.host}:${server.port}: ${e.message}`);
        term.say('    (the config is written anyway; fix it there, then check with: hotbridge doctor)');
        return caFile;
      }
      term.say(
        `  ✗ The certificate of ${server.host} is not signed by a certificate authority (CA) this computer trusts${caFile ? `, nor by ${caFile}` : ''}.`,
      );
      term.say('    Providers with their own CA publish its certificate: save it as a PEM file and give its path here.');
      const answer = await term.ask('    CA certificate file (Enter: go on without; hotbridge will not connect until it is set)');
      if (answer === '') return undefined;
      caFile = path.resolve(baseDir, answer);
    }
  }
}

/** Asks for one server (name, port, how TLS starts), tries it, and asks for a CA when it needs one. */
export async function askServer(term: Terminal, protocol: Protocol, baseDir: string): Promise<ServerAnswer> {
  const label = protocol === 'pop3' ? 'POP3' : 'SMTP';
  const host = await term.askUntil(`  ${label} server name`, (answer) =>
    /^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$/.test(answer) ? undefined : 'a host name like pop.example.com, please',
  );
  const port = await askPort(term, label, protocol);
  const tls = await askTls(term, label, protocol, host, port);
  const server: ServerAnswer = { host, port, tls };
  const caFile = await checkTrust(term, label, protocol, server, baseDir);
  return caFile ? { ...server, caFile } : server;
}
