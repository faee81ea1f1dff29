/**
 * A minimal IMAP client for load generation: one socket, one command at a time, tagged commands,
 * reading until the tagged reply. No client library, so the generator's own cost stays small next
 * to the server's: responses are scanned for line ends and `{n}` literal counts (RFC 3501 §4.3),
 * literal bytes are skipped (or kept, when asked), and nothing is parsed beyond that.
 */
import net from 'node:net';

export interface Reply {
  /** OK, NO or BAD (the tagged status). */
  status: string;
  /** The tagged line, without CRLF. */
  tagged: string;
  /** Untagged responses received while the command ran. */
  untagged: number;
  /** Bytes received for this command, literals included. */
  bytes: number;
  /** With `keep`: each untagged response's text (literals replaced by `{n}`) ... */
  lines?: string[];
  /** ... and the literals, in order. */
  literals?: Buffer[];
}

const LF = 0x0a;
const LITERAL_AT_END = /\{(\d+)\+?\}\r?$/;

export class ImapLoadClient {
  private tagCounter = 0;
  // The response being read: its text so far (only kept when needed), literal bytes still to skip.
  private partialLine: Buffer[] = [];
  private literalLeft = 0;
  private literalChunks: Buffer[] = [];
  private current:
    | { tag: string; resolve: (reply: Reply) => void; reject: (err: Error) => void; reply: Reply; keep: boolean; responseText: string }
    | undefined;
  private continuation: (() => void) | undefined;
  private greetingWaiter: ((line: string) => void) | undefined;
  private greeting: string | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error) => {
      this.failure ??= err;
      this.current?.reject(err);
      this.current = undefined;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  /** Connects and waits for the server greeting. */
  static async connect(port: number, host = '127.0.0.1'): Promise<ImapLoadClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(s));
      s.once('error', reject);
    });
    const client = new ImapLoadClient(socket);
    await new Promise<string>((resolve) => {
      if (client.greeting !== undefined) resolve(client.greeting);
      else client.greetingWaiter = resolve;
    });
    return client;
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, chunk.length - pos);
        if (this.current?.keep) this.literalChunks.push(chunk.subarray(pos, pos + take));
        if (this.current) this.current.reply.bytes += take;
        this.literalLeft -= take;
        pos += take;
        if (this.literalLeft === 0 && this.current?.keep) {
          this.current.reply.literals!.push(Buffer.concat(this.literalChunks));
          this.literalChunks = [];
        }
        continue;
      }
      const nl = chunk.indexOf(LF, pos);
      if (nl < 0) {
        this.partialLine.push(chunk.subarray(pos));
        return;
      }
      const piece = chunk.subarray(pos, nl + 1);
      pos = nl + 1;
      const line = this.partialLine.length === 0 ? piece : Buffer.concat([...this.partialLine, piece]);
      this.partialLine = [];
      this.onLine(line);
    }
  }

  private onLine(raw: Buffer): void {
    const current = this.current;
    if (current) current.reply.bytes += raw.length;
    // Only the tail of a line can announce a literal, and only the head can be a tag: look at those.
    const tail = raw.subarray(Math.max(0, raw.length - 24)).toString('latin1');
    const literal = LITERAL_AT_END.exec(tail);
    const text = raw.toString('latin1', 0, raw.length - (raw[raw.length - 2] === 0x0d ? 2 : 1));
    if (literal) {
      // The response continues after the literal; a literal is never the end of a response.
      if (current) current.responseText += text;
      this.literalLeft = Number(literal[1]);
      if (this.literalLeft === 0 && current?.keep) current.reply.literals!.push(Buffer.alloc(0));
      return;
    }
    if (this.greeting === undefined) {
      this.greeting = text;
      this.greetingWaiter?.(text);
      return;
    }
    if (!current) return; // unsolicited data between commands (an idle update)
    const whole = current.responseText + text;
    current.responseText = '';
    if (whole.startsWith('+')) {
      const go = this.continuation;
      this.continuation = undefined;
      go?.();
      return;
    }
    if (whole.startsWith(`${current.tag} `)) {
      const rest = whole.slice(current.tag.length + 1);
      current.reply.tagged = whole;
      current.reply.status = rest.slice(0, rest.indexOf(' ') >>> 0).toUpperCase();
      this.current = undefined;
      current.resolve(current.reply);
      return;
    }
    current.reply.untagged += 1;
    if (current.keep) current.reply.lines!.push(whole);
  }

  private start(keep: boolean): { tag: string; done: Promise<Reply> } {
    if (this.failure) return { tag: '', done: Promise.reject(this.failure) };
    if (this.current) throw new Error('one command at a time');
    const tag = `T${++this.tagCounter}`;
    const done = new Promise<Reply>((resolve, reject) => {
      const reply: Reply = { status: '', tagged: '', untagged: 0, bytes: 0 };
      if (keep) {
        reply.lines = [];
        reply.literals = [];
      }
      this.current = { tag, resolve, reject, reply, keep, responseText: '' };
    });
    return { tag, done };
  }

  /** Sends `TAG text` and resolves with the tagged reply. `keep` collects untagged lines and literals. */
  command(text: string, keep = false): Promise<Reply> {
    const { tag, done } = this.start(keep);
    if (tag) this.socket.write(`${tag} ${text}\r\n`);
    return done;
  }

  /**
   * APPEND with a synchronizing literal (RFC 3501 §7.5): waits for `+` before sending the message,
   * as a client that does not rely on LITERAL+ does, so both servers get the same round trips.
   */
  append(mailbox: string, flags: string, raw: Buffer): Promise<Reply> {
    const { tag, done } = this.start(false);
    if (!tag) return done;
    this.continuation = () => {
      this.socket.write(raw);
      this.socket.write('\r\n');
    };
    this.socket.write(`${tag} APPEND ${mailbox} (${flags}) {${raw.length}}\r\n`);
    return done;
  }

  /**
   * IDLE (RFC 2177): resolves once the server answered `+`; the function it gives sends DONE and
   * resolves with the tagged reply. Updates and keep-alives meanwhile are read and dropped.
   */
  async idle(): Promise<() => Promise<Reply>> {
    const { tag, done } = this.start(false);
    if (!tag) return () => done;
    await new Promise<void>((resolve, reject) => {
      this.continuation = resolve;
      done.catch(reject);
      this.socket.write(`${tag} IDLE\r\n`);
    });
    return () => {
      this.socket.write('DONE\r\n');
      return done;
    };
  }

  /** LOGOUT (if still connected) and close. */
  async close(): Promise<void> {
    if (!this.failure) {
      try {
        await this.command('LOGOUT');
      } catch {
        // the server closed first
      }
    }
    this.socket.destroy();
  }
}
