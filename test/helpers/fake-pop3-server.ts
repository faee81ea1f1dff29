/**
 * A small RFC 1939 server over one in-memory maildrop, with PIPELINING (RFC 2449), and per-test faults through
 * `intercept` — for the poller tests that need answers no real server can be made to give (each test file says
 * which). Listens on 127.0.0.1 port 0.
 */
import { startFakeLineServer, type FakeLineServer, type FakePeer } from './fake-line-server.js';

/** The password the fake server accepts (with any user name). */
export const FAKE_POP3_PASSWORD = 'secret';

export interface FakeMessage {
  uidl: string;
  raw: Buffer;
  /** What LIST reports; the real size when absent. */
  listSize?: number;
  /** RETR sends it without dot-stuffing (RFC 1939 §3 wants a leading "." doubled): a lone "." ends it early. */
  unstuffed?: boolean;
  /** The UIDL listing leaves it out. */
  noUidl?: boolean;
}

export interface Connection extends FakePeer {
  /** 1-based, in order of arrival. */
  number: number;
  at: number;
  commands: string[];
}

/**
 * Handles a command in a special way for a test; return true when handled (the default answer is skipped).
 * `greeting` is called with verb "" before anything is sent.
 */
export type Intercept = (verb: string, line: string, connection: Connection) => boolean;

export class FakePop3Server {
  readonly connections: Connection[] = [];
  maildrop: FakeMessage[] = [];
  intercept: Intercept = () => false;
  /** Whether CAPA advertises PIPELINING (RFC 2449 §6.6). */
  pipelining = true;
  private server!: FakeLineServer;
  port = 0;

  async listen(): Promise<void> {
    this.server = await startFakeLineServer((peer) => this.accept(peer));
    this.port = this.server.port;
  }

  async close(): Promise<void> {
    await this.server.close();
  }

  /** How often a message was sent in answer to RETR, over all connections. */
  retrCount(uidl: string): number {
    return this.connections.flatMap((connection) => connection.commands).filter((command) => command === `RETR-UIDL ${uidl}`).length;
  }

  private accept(peer: FakePeer): (line: string) => void {
    const connection: Connection = { ...peer, number: this.connections.length + 1, at: Date.now(), commands: [] };
    this.connections.push(connection);
    // The maildrop as this session sees it: numbers fixed at login, deletions applied at QUIT (RFC 1939 §6).
    const view = [...this.maildrop];
    const deleted = new Set<FakeMessage>();
    if (!this.intercept('', '', connection)) connection.write('+OK fake POP3 ready\r\n');
    return (line) => {
      // Once a test has cut the connection, the lines that came with the same bytes go unanswered.
      if (peer.socket.destroyed) return;
      const verb = line.split(' ')[0].toUpperCase();
      connection.commands.push(verb === 'PASS' ? 'PASS' : line);
      if (this.intercept(verb, line, connection)) return;
      this.answer(verb, line, connection, view, deleted);
    };
  }

  private answer(verb: string, line: string, connection: Connection, view: FakeMessage[], deleted: Set<FakeMessage>): void {
    const arg = Number(line.split(' ')[1]);
    const message = view[arg - 1];
    switch (verb) {
      case 'CAPA':
        return connection.write(`+OK\r\nUSER\r\nUIDL\r\nTOP\r\n${this.pipelining ? 'PIPELINING\r\n' : ''}.\r\n`);
      case 'USER':
        return connection.write('+OK\r\n');
      case 'PASS':
        return connection.write(line === `PASS ${FAKE_POP3_PASSWORD}` ? '+OK logged in\r\n' : '-ERR [AUTH] Authentication failed.\r\n');
      case 'UIDL':
        // RFC 1939 §7: with an argument, one line for that message.
        if (line.split(' ')[1] !== undefined) {
          if (!message || deleted.has(message) || message.noUidl) return connection.write('-ERR no such message\r\n');
          return connection.write(`+OK ${arg} ${message.uidl}\r\n`);
        }
        return connection.write(`+OK\r\n${view.map((m, i) => (deleted.has(m) || m.noUidl ? '' : `${i + 1} ${m.uidl}\r\n`)).join('')}.\r\n`);
      case 'LIST':
        return connection.write(
          `+OK\r\n${view.map((m, i) => (deleted.has(m) ? '' : `${i + 1} ${m.listSize ?? m.raw.length}\r\n`)).join('')}.\r\n`,
        );
      case 'RETR':
        if (!message || deleted.has(message)) return connection.write('-ERR no such message\r\n');
        connection.commands.push(`RETR-UIDL ${message.uidl}`);
        return connection.write(message.unstuffed ? unstuffedResponse(message.raw) : retrResponse(message.raw));
      case 'TOP': {
        if (!message || deleted.has(message)) return connection.write('-ERR no such message\r\n');
        const end = message.raw.indexOf('\r\n\r\n');
        return connection.write(retrResponse(message.raw.subarray(0, end === -1 ? message.raw.length : end + 4)));
      }
      case 'DELE':
        if (!message || deleted.has(message)) return connection.write('-ERR no such message\r\n');
        deleted.add(message);
        return connection.write('+OK marked\r\n');
      case 'NOOP':
        return connection.write('+OK\r\n');
      case 'QUIT':
        this.maildrop = this.maildrop.filter((m) => !deleted.has(m));
        connection.write('+OK bye\r\n');
        connection.socket.end();
        return;
      default:
        return connection.write('-ERR unknown command\r\n');
    }
  }
}

/** What a server that does not dot-stuff sends: the message as it is, then ".". */
export function unstuffedResponse(raw: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from('+OK message follows\r\n'),
    raw,
    Buffer.from(raw.subarray(-2).toString() === '\r\n' ? '' : '\r\n'),
    Buffer.from('.\r\n'),
  ]);
}

/** RFC 1939 §3 multi-line answer: dot-stuffed lines, ended by ".". */
export function retrResponse(raw: Buffer): Buffer {
  const stuffed = raw.toString('latin1').replace(/^\./gm, '..');
  return Buffer.from(`+OK message follows\r\n${stuffed}${stuffed.endsWith('\r\n') ? '' : '\r\n'}.\r\n`, 'latin1');
}
