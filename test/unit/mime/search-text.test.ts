/**
 * SEARCH text keys over the message index (RFC 3501 §6.4.4): case-insensitive substring matches on
 * decoded header values and decoded body text.
 */
import { describe, expect, it } from 'vitest';
import { indexMessage } from '../../../src/mime/index.js';
import {
  addressFieldContains,
  bodyContains,
  headerContains,
  subjectContains,
  textContains,
} from '../../../src/downstream/imap/search/text.js';
import { fixture } from './fixtures.js';

describe('SEARCH text keys', () => {
  const encoded = indexMessage(fixture('05-encoded-words'));
  const nested = indexMessage(fixture('02-nested-multipart'));
  const forwarded = indexMessage(fixture('03-rfc822-attachment'));

  it('SUBJECT matches decoded encoded words in any charset, case-insensitively', () => {
    expect(subjectContains(encoded, '日本語')).toBe(true);
    expect(subjectContains(encoded, 'UND €URO')).toBe(true);
    expect(subjectContains(encoded, 'CAFÉ')).toBe(true);
    expect(subjectContains(encoded, '=?UTF-8?B?')).toBe(false);
  });

  it('FROM/TO/CC match display names and addresses', () => {
    expect(addressFieldContains(encoded, 'to', 'Иван')).toBe(true);
    expect(addressFieldContains(encoded, 'to', 'jörg müller')).toBe(true);
    expect(addressFieldContains(encoded, 'to', 'joerg@example.DE')).toBe(true);
    expect(addressFieldContains(encoded, 'cc', '中文')).toBe(true);
    expect(addressFieldContains(encoded, 'bcc', 'x')).toBe(false);
  });

  it('HEADER with an empty string matches messages that have the field', () => {
    expect(headerContains(nested, 'In-Reply-To', '')).toBe(true);
    expect(headerContains(nested, 'X-Mailer', '')).toBe(false);
    expect(headerContains(nested, 'message-id', 'Q-REPORT-2024')).toBe(true);
  });

  it('BODY matches decoded quoted-printable, base64 and charset-converted text only', () => {
    expect(bodyContains(encoded, 'beträgt 10 €')).toBe(true);
    expect(bodyContains(nested, 'Café budget')).toBe(true);
    expect(bodyContains(nested, 'see the chart for details')).toBe(true); // soft line break undone
    expect(bodyContains(nested, 'Quarterly report')).toBe(false); // header, not body
    expect(bodyContains(forwarded, 'GRÜSSE')).toBe(false);
    expect(bodyContains(forwarded, 'grüße aus dem')).toBe(true);
    // The attached message's header is part of the outer body.
    expect(bodyContains(forwarded, 'list-bounces@example.test')).toBe(true);
  });

  it('TEXT matches header or body', () => {
    expect(textContains(nested, 'quarterly REPORT')).toBe(true);
    expect(textContains(nested, 'café budget')).toBe(true);
    expect(textContains(nested, 'subject: quarterly')).toBe(true);
    expect(textContains(nested, 'not in this message')).toBe(false);
  });

  it('a needle with CRLF matches the stored text', () => {
    expect(bodyContains(indexMessage(fixture('01-simple')), 'Hi Bob,\r\n\r\nare you free')).toBe(true);
  });

  it('8-bit mail without MIME is searchable', () => {
    const index = indexMessage(fixture('09-8bit-no-mime'));
    expect(bodyContains(index, 'NAÏVE')).toBe(true);
    expect(subjectContains(index, 'été')).toBe(true);
  });
});

describe('FROM/TO/CC/BCC match every address of the field, however it is written', () => {
  const message = (header: string) => indexMessage(Buffer.from(`${header}\r\nSubject: x\r\n\r\nbody\r\n`));
  const written = [
    'From: someone@example.org',
    'From: Some One <someone@example.org>',
    'From: <someone (a comment)@ (another) example.org>',
    'From: someone@example.org (Some One)',
    'From: "One, Some" <someone@example.org>',
    'From: =?UTF-8?Q?S=C3=B6me_One?= <someone@example.org>',
    'From: first@example.org, someone@example.org',
    'From: Team: first@example.org, Some One <someone@example.org>;',
  ];

  it.each(written)('%s: the address, whole and in part', (header) => {
    const index = message(header);
    expect(addressFieldContains(index, 'from', 'someone@example.org')).toBe(true);
    expect(addressFieldContains(index, 'from', 'SOMEONE@Example.Org')).toBe(true);
    expect(addressFieldContains(index, 'from', 'eone@exa')).toBe(true);
    expect(addressFieldContains(index, 'from', 'nobody@example.org')).toBe(false);
    expect(addressFieldContains(index, 'to', 'someone@example.org')).toBe(false);
  });

  it('display names, decoded, and group names', () => {
    expect(addressFieldContains(message('From: =?UTF-8?Q?S=C3=B6me_One?= <someone@example.org>'), 'from', 'sÖme one')).toBe(true);
    expect(addressFieldContains(message('From: someone@example.org (Some One)'), 'from', 'some one')).toBe(true);
    const group = message('To: groupname: first@example.org, second@example.org;,\r\n  groupname2: third@example.org;');
    expect(addressFieldContains(group, 'to', 'groupname')).toBe(true);
    expect(addressFieldContains(group, 'to', 'groupname2')).toBe(true);
    expect(addressFieldContains(group, 'to', 'third@example.org')).toBe(true);
    expect(addressFieldContains(message('To: groupname:;'), 'to', 'groupname')).toBe(true);
    expect(addressFieldContains(message('To: groupname:;'), 'to', 'first')).toBe(false);
  });

  it('an empty string matches every message that has the field', () => {
    expect(addressFieldContains(message('Cc: someone@example.org'), 'cc', '')).toBe(true);
    expect(addressFieldContains(message('Cc: someone@example.org'), 'bcc', '')).toBe(false);
  });
});
