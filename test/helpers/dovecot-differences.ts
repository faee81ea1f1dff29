// Where hotbridge's BODY and BODYSTRUCTURE of a MIME fixture (test/fixtures/mime) knowingly differ from
// Dovecot's, for the tests that compare the two (test/unit/mime/dovecot-reference.test.ts against
// recorded Dovecot answers, test/integration/imap-dovecot-shape.test.ts against a live Dovecot).

/** Dovecot's answer with `dovecot` replaced by `ours` (both as normalised JSON) is what we answer. */
export interface ValueDifference {
  dovecot: string;
  ours: string;
  why: string;
}

/** Both BODY and BODYSTRUCTURE, keyed `<fixture without .eml> <item>`. */
function bodyAndBodyStructure(fixture: string, difference: (item: string) => ValueDifference): Record<string, ValueDifference[]> {
  return Object.fromEntries(['BODY', 'BODYSTRUCTURE'].map((item) => [`${fixture} ${item}`, [difference(item)]]));
}

export const MIME_FIXTURE_DIFFERENCES: Record<string, ValueDifference[]> = {
  ...bodyAndBodyStructure('17-bogus-content-type', () => ({
    dovecot: '["bogus","",null,null,null,"7bit",22',
    ours: '["text","plain",["charset","us-ascii"],null,null,"7bit",22,1',
    why:
      'RFC 2045 §5.2: a syntactically invalid Content-Type means the default text/plain; charset=us-ascii. ' +
      'Dovecot passes the broken value through with an empty subtype.',
  })),
  ...bodyAndBodyStructure('28-content-type-junk', (item) => ({
    dovecot: item === 'BODY' ? '["","",null,null,null,"7bit",43]' : '["","",null,null,null,"7bit",43,null,null,null,null]',
    ours:
      item === 'BODY'
        ? '[["text","plain",["charset","us-ascii"],null,null,"7bit",1,0],"mixed"]'
        : '[["text","plain",["charset","us-ascii"],null,null,"7bit",1,0,null,null,null,null],"mixed",["boundary","x"],null,null,null]',
    why:
      'Junk after type/subtype ("multipart/mixed junk; boundary=x"): Dovecot gives up on the whole ' +
      'Content-Type and answers an empty type. We honour the type/subtype and parameters that are ' +
      'there, so the parts stay reachable.',
  })),
  ...bodyAndBodyStructure('18-rfc2231-single-star-after-continuation', () => ({
    dovecot: '"title*1*"',
    ours: '"title*"',
    why:
      'Dovecot 2.3 carries the section number of the previous continued parameter (name*1) over to a ' +
      'following single extended parameter (title*=), renaming it title*1*. RFC 2231 §4 names it title*.',
  })),
};
