/**
 * The TOML config as written by people (snake_case, human units), checked with zod. Every object is
 * strict: an unknown key is an error, because a typo must not be silently ignored.
 */
import net from 'node:net';
import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

const port = z
  .number({ error: 'expected a number from 1 to 65535' })
  .int({ error: 'expected a number from 1 to 65535' })
  .min(1, { error: 'expected a number from 1 to 65535' })
  .max(65535, { error: 'expected a number from 1 to 65535' });

const duration = z
  .union([z.string(), z.number()], { error: 'expected a duration like "90s", "2m", "1h" or "14d"' })
  .refine((value) => parseDuration(value) !== undefined, { error: 'expected a duration like "90s", "2m", "1h" or "14d"' });

const size = z
  .union([z.string(), z.number()], { error: 'expected a size like "35MB" or "512KB"' })
  .refine((value) => parseSize(value) !== undefined, { error: 'expected a size like "35MB" or "512KB"' });

/** "127.0.0.1:1143", "[::1]:1143" or "localhost:1143". */
export const LISTEN_PATTERN = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/;
const listenAddress = z
  .string({ error: 'expected an address like "127.0.0.1:1143" or "[::1]:1143"' })
  .regex(LISTEN_PATTERN, { error: 'expected an address like "127.0.0.1:1143" or "[::1]:1143"' })
  .refine(
    (text) => {
      const portNumber = Number(LISTEN_PATTERN.exec(text)?.[3]);
      return portNumber >= 1 && portNumber <= 65535;
    },
    { error: 'the port must be a number from 1 to 65535' },
  );

const tlsMode = z.enum(['implicit', 'starttls', 'none'], { error: 'expected "implicit", "starttls" or "none"' });

const server = z.strictObject({
  host: z.string().min(1, { error: 'expected a host name' }).optional(),
  port: port.optional(),
  tls: tlsMode.optional(),
  ca_file: z.string().min(1).optional(),
  timeout: duration.optional(),
});

const pop3 = server.extend({
  max_message_size: size.optional(),
  batch_size: z.number().int().min(1).max(1000, { error: 'expected a number from 1 to 1000' }).optional(),
});

const auth = z.strictObject({
  method: z.enum(['oauth2', 'password'], { error: 'expected "oauth2" or "password"' }).optional(),
  password_file: z.string().min(1).optional(),
  user: z.string().min(1).optional(),
  client_id: z.string().min(1).optional(),
  tenant: z.string().min(1).optional(),
  authority: z.string().url({ error: 'expected a URL like "https://login.microsoftonline.com/consumers"' }).optional(),
  scopes: z.array(z.string().min(1)).optional(),
});

const account = z.strictObject({
  address: z
    .string({ error: 'expected an e-mail address' })
    .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, { error: 'expected an e-mail address like you@hotmail.com' }),
  name: z.string().optional(),
  provider: z.string().optional(),
  poll_interval: duration.optional(),
  leave_on_server: z.boolean({ error: 'expected true or false' }).optional(),
  delete_on_server_after: duration.optional(),
  delete_on_expunge: z.boolean({ error: 'expected true or false' }).optional(),
  save_sent: z.boolean({ error: 'expected true or false' }).optional(),
  send_as: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, { error: 'expected an e-mail address' })).optional(),
  auth: auth.optional(),
  pop3: pop3.optional(),
  smtp: server.optional(),
});

/** "10.0.0.0/8", "192.168.1.0/24", "fd00::/8", or one address (a /32 or /128). */
const cidr = z.string({ error: 'expected a network like "192.168.1.0/24" or "fd00::/8"' }).refine(
  (text) => {
    const [address, bits, extra] = text.split('/');
    if (extra !== undefined || !address) return false;
    const family = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
    if (family === 0) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  },
  { error: 'expected a network like "192.168.1.0/24" or "fd00::/8"' },
);

/** What every local listener table ([imap], [pop3], [smtp]) has for TLS and the home network. */
const localTls = {
  tls_cert: z.string().min(1).optional(),
  tls_key: z.string().min(1).optional(),
  /** Implicit-TLS addresses (IMAPS, POP3S, SMTPS), off unless listed. */
  tls_listen: z.array(listenAddress).optional(),
  tls_min_version: z
    .enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'], {
      error: 'expected "TLSv1.2" (the default), "TLSv1.3", or for old devices "TLSv1.1" or "TLSv1"',
    })
    .optional(),
  allow_plaintext_lan: z.boolean({ error: 'expected true or false' }).optional(),
};

export const configSchema = z.strictObject({
  data_dir: z.string().min(1).optional(),
  log_level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], { error: 'expected one of fatal, error, warn, info, debug, trace' })
    .optional(),
  imap: z
    .strictObject({
      listen: z.array(listenAddress).optional(),
      max_literal_size: size.optional(),
      max_connections_per_address: z.number().int().min(1).optional(),
      max_connections: z.number().int().min(1).optional(),
      ...localTls,
    })
    .optional(),
  smtp: z
    .strictObject({
      listen: z.array(listenAddress).optional(),
      max_message_size: size.optional(),
      ...localTls,
    })
    .optional(),
  pop3: z
    .strictObject({
      listen: z.array(listenAddress).optional(),
      max_connections_per_address: z.number().int().min(1).optional(),
      max_connections: z.number().int().min(1).optional(),
      ...localTls,
    })
    .optional(),
  status: z.strictObject({ listen: z.array(listenAddress).optional() }).optional(),
  backup: z
    .strictObject({
      every: duration.optional(),
      keep: z
        .number({ error: 'expected a number from 1 to 1000' })
        .int()
        .min(1, { error: 'expected a number from 1 to 1000' })
        .max(1000, { error: 'expected a number from 1 to 1000' })
        .optional(),
      dir: z.string().min(1).optional(),
    })
    .optional(),
  allowed_networks: z.array(cidr).optional(),
  accounts: z
    .array(account, { error: 'expected a list of [[accounts]] tables' })
    .min(1, { error: 'at least one [[accounts]] table with an address is needed' }),
});

export type RawConfig = z.infer<typeof configSchema>;
export type RawAccount = z.infer<typeof account>;
