/**
 * `hotbridge login ADDRESS`: signs an Outlook.com account in to Microsoft with the device code flow and
 * saves the tokens in the data dir. The page and the code are printed as plain text, so it works over SSH
 * and on machines without a browser: the user signs in on any other device.
 *
 * Exit codes: 0 signed in; 1 the sign-in did not complete (declined, expired, refused, network);
 * 2 the config does not allow it (unknown address, not an OAuth2 account, no client_id).
 */
import type { AccountConfig, HotbridgeConfig } from '../../config/types.js';
import { AuthorityError, checkAuthority } from '../../upstream/oauth/authority.js';
import { DeviceCodeError, signInWithDeviceCode, type DeviceCodePrompt } from '../../upstream/oauth/device-code.js';
import type { FetchFn } from '../../upstream/oauth/token-endpoint.js';
import { TokenStore } from '../../upstream/oauth/token-store.js';

/** Why a client id is needed and how to get one; shown when `client_id` is missing. */
export function clientIdHelp(address: string, configFile: string): string {
  return [
    `hotbridge login ${address}: no client_id is set for this account.`,
    '',
    'Microsoft lets a program sign in to Outlook.com only under an application id',
    '(a "client id"). hotbridge does not come with one, and it never uses another',
    "program's id unless you choose that. A personal Microsoft account can no longer",
    'easily register an application of its own, so you have two choices:',
    '',
    '  1. Register one, in a Microsoft Entra (Azure) directory you can use:',
    '     Entra admin center -> App registrations -> New registration;',
    '     supported accounts: "personal Microsoft accounts" (alone or with others);',
    '     Authentication -> "Allow public client flows": Yes;',
    '     API permissions -> add the delegated permissions POP.AccessAsUser.All',
    '     and SMTP.Send (Office 365 Exchange Online) and offline_access.',
    '     Its "Application (client) ID" is the id.',
    '  2. Use the id of an application you trust with your mail, for example one',
    '     published by another mail program. Its publisher can see these sign-ins.',
    '',
    `Then set it in ${configFile}:`,
    '',
    '  [[accounts]]',
    `  address = "${address}"`,
    '  [accounts.auth]',
    '  client_id = "00000000-0000-0000-0000-000000000000"',
    '',
    `and run: hotbridge login ${address}`,
    '',
  ].join('\n');
}

function promptText(address: string, p: DeviceCodePrompt): string {
  const minutes = Math.max(1, Math.round(p.expiresInS / 60));
  return [
    `Signing in ${address} with Microsoft.`,
    '',
    '  1. Open this page in a web browser, on any device (a phone will do):',
    '',
    `       ${p.verificationUri}`,
    '',
    '  2. Enter this code:',
    '',
    `       ${p.userCode}`,
    '',
    `  3. Sign in as ${address} and allow the access asked for (read mail by POP, send mail).`,
    '',
    `The code works for ${minutes} minute${minutes === 1 ? '' : 's'}. Waiting for the sign-in... (Ctrl-C gives up)`,
    '',
  ].join('\n');
}

export async function runLogin(options: {
  config: HotbridgeConfig;
  address: string;
  out: NodeJS.WritableStream;
  fetch?: FetchFn;
  /** Waits between polls of the token endpoint (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}): Promise<number> {
  const { config, out } = options;
  const address = options.address.toLowerCase();
  const account: AccountConfig | undefined = config.accounts.find((a) => a.address === address);
  if (!account) {
    const known = config.accounts.map((a) => a.address).join(', ');
    out.write(`hotbridge login: ${options.address} is not an account in ${config.file} (accounts: ${known}).\n`);
    return 2;
  }
  const auth = account.auth;
  if (auth.method !== 'oauth2') {
    out.write(
      `hotbridge login: ${address} signs in with a password, not with Microsoft (OAuth2).\n` +
        `For an Outlook.com account set method = "oauth2" under [accounts.auth] in ${config.file}.\n`,
    );
    return 2;
  }
  if (!auth.clientId) {
    out.write(clientIdHelp(address, config.file));
    return 2;
  }
  let authority: string;
  try {
    authority = checkAuthority(auth.authority);
  } catch (err) {
    if (!(err instanceof AuthorityError)) throw err;
    out.write(`hotbridge login: ${err.message} (accounts.auth.authority in ${config.file}).\n`);
    return 2;
  }

  let tokens;
  try {
    tokens = await signInWithDeviceCode({
      authority,
      clientId: auth.clientId,
      scopes: auth.scopes,
      address,
      tenant: auth.tenant,
      onPrompt: (p) => out.write(promptText(address, p)),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (!(err instanceof DeviceCodeError)) throw err;
    out.write(`Sign-in for ${address} did not complete: ${err.message}\n`);
    return 1;
  }

  const store = new TokenStore(config.dataDir);
  try {
    store.save(address, tokens);
  } catch (err) {
    out.write(
      `Signed in, but the sign-in could not be saved in ${store.fileFor(address)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.\n`,
    );
    return 1;
  }
  out.write(`Signed in: ${address}. hotbridge can now fetch and send its mail (a running hotbridge picks this up at its next poll).\n`);
  return 0;
}
