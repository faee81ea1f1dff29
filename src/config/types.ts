/** The config after loading: every default filled in, units converted, presets applied. */
import type { TlsMode } from './presets.js';

export interface ListenAddress {
  host: string;
  port: number;
  /** A default address that may be skipped when the machine lacks it (IPv6 switched off). */
  optional?: boolean;
}

export interface UpstreamServer {
  host: string;
  port: number;
  tls: TlsMode;
  /** An extra trusted CA (PEM file); certificates are always verified. */
  caFile?: string;
  timeoutMs: number;
}

export interface Pop3Settings extends UpstreamServer {
  maxMessageBytes: number;
  /** How many messages one POP3 session fetches before it says QUIT and reconnects (throttling). */
  batchSize: number;
}

export type AccountAuth =
  | { method: 'password'; user: string; passwordFile?: string }
  | { method: 'oauth2'; user: string; clientId?: string; tenant: string; authority: string; scopes: string[] };

export interface AccountConfig {
  /** The mailbox address, lowercased: also the local login name. */
  address: string;
  name?: string;
  provider: string;
  pollIntervalMs: number;
  leaveOnServer: boolean;
  deleteOnServerAfterMs?: number;
  deleteOnExpunge: boolean;
  saveSent: boolean;
  /** Envelope senders this account may use besides its address (lowercased). */
  sendAs: string[];
  auth: AccountAuth;
  pop3: Pop3Settings;
  smtp: UpstreamServer;
}

export type TlsMinVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** TLS and home-network settings of one local listener table ([imap], [pop3], [smtp]). */
export interface LocalTls {
  /** The user's own certificate and key (PEM); they win over the one `hotbridge cert` made. */
  certFile?: string;
  keyFile?: string;
  /** Implicit-TLS addresses (IMAPS 993, POP3S 995, SMTPS 465 style); empty unless configured. */
  tlsListen: ListenAddress[];
  /** The oldest TLS version accepted (default TLSv1.2); TLSv1/TLSv1.1 also lower OpenSSL's security level to 0. */
  tlsMinVersion: TlsMinVersion;
  /** Logins without TLS on non-loopback addresses (a home network the user trusts). */
  allowPlaintextLan: boolean;
}

export interface BackupSettings {
  everyMs: number;
  /** How many backups to keep (the oldest go). */
  keep: number;
  /** Where they go (default DATA_DIR/backups). */
  dir: string;
}

export interface HotbridgeConfig {
  /** The file this was loaded from (absolute). */
  file: string;
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  imap: { listen: ListenAddress[]; maxLiteralBytes: number; maxConnectionsPerAddress: number; maxConnections: number } & LocalTls;
  smtp: { listen: ListenAddress[]; maxMessageBytes: number } & LocalTls;
  pop3: { listen: ListenAddress[]; maxConnectionsPerAddress: number; maxConnections: number } & LocalTls;
  status: { listen: ListenAddress[] };
  /** Rotating backups of the store (`[backup]`); absent, the default, when `every` is not set. */
  backup?: BackupSettings;
  /** CIDR networks clients may connect from; undefined: loopback plus this host's own private networks. */
  allowedNetworks?: string[];
  accounts: AccountConfig[];
}
