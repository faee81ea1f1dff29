/**
 * A header block of many lines without a colon (a message that is all "header", as a hostile sender or a
 * broken provider can make it) is read in one pass: each line's colon is looked for in that line only.
 * Before, the search ran to the end of the message for every such line, and a 3 MB message took seconds
 * (100 MB would have taken hours, holding the event loop and the poller). The test's own timeout is the guard.
 */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';
import { readHeaderFields } from '../../../src/mime/raw-header.js';

describe('header scan', () => {
  it('reads 200,000 colon-less header lines (16 MB) in one pass, each a field that names nothing', () => {
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n';
    const raw = Buffer.from(`Subject: all header\r\n${line.repeat(200_000)}`);
    const fields = readHeaderFields(raw, 0, raw.length);
    expect(fields).toHaveLength(200_001);
    expect(fields[0]).toMatchObject({ key: 'subject' });
    expect(fields[1].key).toBe('');
    expect(indexMessage(raw).envelope.subject).toBe('all header');
  });

  it('still finds the colon of a field on its first line only', () => {
    const raw = Buffer.from('no colon here\r\n\tcontinued: not a field name\r\nX-Real: yes\r\n\r\n');
    const fields = readHeaderFields(raw, 0, raw.length);
    expect(fields.map((field) => field.key)).toEqual(['', 'x-real']);
  });
});
