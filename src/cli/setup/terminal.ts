/**
 * The questions of the guided set-up, read from one input stream for the whole conversation: a terminal
 * (typed answers echo, a password does not) or, in tests, a stream of scripted answers. One reader for all
 * questions, because answers that arrive together (pasted, or scripted) must not be lost between them.
 */
import { StringDecoder } from 'node:string_decoder';
import { UserError } from '../config-option.js';

type TtyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

interface Pending {
  hidden: boolean;
  resolve: (answer: string) => void;
  reject: (err: Error) => void;
}

export class Terminal {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private pending: Pending | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer | string) => {
    this.buffer += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    this.deliver();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.deliver();
  };

  /** `tty`: the input is a real terminal, so hidden answers switch echo off (raw mode). */
  constructor(
    private readonly input: TtyInput,
    private readonly out: NodeJS.WritableStream,
    private readonly tty: boolean,
  ) {
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('close', this.onEnd);
  }

  say(text = ''): void {
    this.out.write(`${text}\n`);
  }

  private deliver(): void {
    const pending = this.pending;
    if (!pending) return;
    if (pending.hidden && this.tty) {
      // Raw mode: keys arrive as typed and nothing echoes; backspace is ours to apply.
      let answer = '';
      for (let i = 0; i < this.buffer.length; i++) {
        const char = this.buffer[i];
        if (char === '\u007f' || char === '\b') {
          answer = [...answer].slice(0, -1).join('');
          continue;
        }
        if (char === '\r' || char === '\n' || char === '\u0004') {
          this.buffer = this.buffer.slice(i + 1).replace(/^\n/, '');
          this.finish(answer);
          return;
        }
        if (char === '\u0003') {
          this.buffer = '';
          this.finish(undefined, new UserError('set-up cancelled; nothing more was changed', 130));
          return;
        }
        answer += char;
      }
      if (this.ended) this.finish(undefined, new UserError('set-up stopped: the input ended before all questions were answered', 1));
      return;
    }
    const end = this.buffer.indexOf('\n');
    if (end >= 0) {
      const answer = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      this.finish(answer);
    } else if (this.ended) {
      this.finish(undefined, new UserError('set-up stopped: the input ended before all questions were answered', 1));
    }
  }

  private finish(answer: string | undefined, error?: Error): void {
    const pending = this.pending!;
    this.pending = undefined;
    if (pending.hidden && this.tty) {
      this.input.setRawMode?.(false);
      this.out.write('\n');
    }
    if (error) pending.reject(error);
    // A password is taken as typed; other answers lose stray spaces.
    else pending.resolve(pending.hidden ? answer! : answer!.trim());
  }

  private read(question: string, hidden: boolean): Promise<string> {
    if (this.pending) throw new Error('one question at a time');
    // Echo goes off before the prompt shows, so nothing typed in answer to it can be echoed.
    if (hidden && this.tty) this.input.setRawMode?.(true);
    this.out.write(question);
    return new Promise((resolve, reject) => {
      this.pending = { hidden, resolve, reject };
      this.deliver();
    });
  }

  /** Asks; an empty answer takes `suggestion` (shown in brackets) when there is one. */
  async ask(question: string, suggestion?: string): Promise<string> {
    const answer = await this.read(`${question}${suggestion ? ` [${suggestion}]` : ''}: `, false);
    return answer === '' && suggestion !== undefined ? suggestion : answer;
  }

  /** Asks until `check` returns undefined (the answer is fine) rather than a reason. */
  async askUntil(question: string, check: (answer: string) => string | undefined, suggestion?: string): Promise<string> {
    for (;;) {
      const answer = await this.ask(question, suggestion);
      const problem = check(answer);
      if (problem === undefined) return answer;
      this.say(`  ${problem}`);
    }
  }

  /** A password: not echoed on a terminal. */
  askHidden(question: string): Promise<string> {
    return this.read(`${question}: `, true);
  }

  async yesNo(question: string, byDefault: boolean): Promise<boolean> {
    for (;;) {
      const answer = (await this.read(`${question} [${byDefault ? 'Y/n' : 'y/N'}]: `, false)).toLowerCase();
      if (answer === '') return byDefault;
      if (['y', 'yes', 'j', 'ja', 'o', 'oui'].includes(answer)) return true;
      if (['n', 'no', 'nein', 'non'].includes(answer)) return false;
      this.say('  Please answer y (yes) or n (no).');
    }
  }

  /** Stops reading, so the process can exit and later readers (sign-in, service) get the input. */
  close(): void {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('close', this.onEnd);
    if (this.tty) this.input.pause();
  }
}
