// Child processes report progress one line at a time on stdout, and test servers read commands line by
// line from a socket; a chunk may hold part of a line or several lines.
import type { Readable } from 'node:stream';

/**
 * Calls `onLine` with each complete line `stream` gives, in order, without its separator: by default
 * "\n"-ended UTF-8 text; protocols pass "\r\n" and latin1 (one character per byte).
 */
export function onEachLine(
  stream: Readable,
  onLine: (line: string) => void,
  options: { separator?: string; encoding?: 'utf8' | 'latin1' } = {},
): void {
  const separator = options.separator ?? '\n';
  const encoding = options.encoding ?? 'utf8';
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString(encoding);
    for (let end = pending.indexOf(separator); end >= 0; end = pending.indexOf(separator)) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + separator.length);
      onLine(line);
    }
  });
}
