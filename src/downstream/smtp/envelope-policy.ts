/**
 * What a MAIL FROM or RCPT TO may carry here, beyond what smtp-server checks itself (syntax, SIZE,
 * BODY values): only the parameters of extensions we advertise (RFC 5321 §4.1.1.11: anything else is
 * 555), and non-ASCII addresses only in a transaction that declared SMTPUTF8 (RFC 6531 §3.2), which we
 * advertise only when the provider offers it too. The relay could not pass such an address on
 * otherwise: the message would be accepted here and bounce later.
 */

/** A refusal: the reply code and text (the enhanced status code, RFC 3463, leads the text). */
export interface EnvelopeRefusal {
  code: number;
  text: string;
}

/**
 * MAIL FROM parameters of the extensions we advertise: SIZE (RFC 1870), BODY (8BITMIME, RFC 6152), AUTH
 * (RFC 4954 §5: a server that offers AUTH accepts it; we treat it as AUTH=<>, §5 allows that) and,
 * when offered, SMTPUTF8 (RFC 6531 §3.4).
 */
const MAIL_PARAMETERS = ['SIZE', 'BODY', 'AUTH'];

type Parameters = Record<string, string | boolean> | false | undefined;

/** Why the MAIL FROM parameters are refused, or undefined. `smtpUtf8Offered`: SMTPUTF8 is in our EHLO now. */
export function mailParameterRefusal(args: Parameters, smtpUtf8Offered: boolean): EnvelopeRefusal | undefined {
  for (const key of Object.keys(args || {})) {
    if (MAIL_PARAMETERS.includes(key)) continue;
    if (key === 'SMTPUTF8' && smtpUtf8Offered) continue;
    return unknownParameter('MAIL FROM', key);
  }
  return undefined;
}

/** RCPT TO takes no parameters here: DSN (NOTIFY, ORCPT) is not offered, the relay could not honour it. */
export function rcptParameterRefusal(args: Parameters): EnvelopeRefusal | undefined {
  const key = Object.keys(args || {})[0];
  return key === undefined ? undefined : unknownParameter('RCPT TO', key);
}

function unknownParameter(command: string, key: string): EnvelopeRefusal {
  const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
  return { code: 555, text: `5.5.4 ${command} parameter ${shown} is not supported here` };
}

/**
 * The path as the client wrote it (`<…>`, bytes as latin1 characters), taken from the raw command
 * line the way smtp-server takes it: the first word after the first colon. smtp-server hands us the
 * address with an A-label domain already turned into Unicode, so only the raw line tells an ASCII
 * `xn--` domain from a UTF-8 one.
 */
export function rawPath(line: Buffer): string {
  const text = line.toString('latin1');
  const colon = text.indexOf(':');
  return colon < 0
    ? ''
    : (text
        .slice(colon + 1)
        .trim()
        .split(/\s+/)[0] ?? '');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why an address (its raw path from rawPath()) is refused for its characters, or undefined.
 * `smtpUtf8`: the transaction declared SMTPUTF8 (possible only when we offered it).
 */
export function addressCharsetRefusal(path: string, role: 'sender' | 'recipient', smtpUtf8: boolean): EnvelopeRefusal | undefined {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(path)) return undefined;
  if (!smtpUtf8) {
    // RFC 6531 §3.7.4.1 names this reply: 553 5.6.7.
    return {
      code: 553,
      text: `5.6.7 The ${role} address is not ASCII: that needs SMTPUTF8${role === 'recipient' ? ' on MAIL FROM' : ''}, which this server offers only when your provider does`,
    };
  }
  try {
    UTF8.decode(Buffer.from(path, 'latin1'));
  } catch {
    return { code: 553, text: `${role === 'sender' ? '5.1.7' : '5.1.3'} The ${role} address is not valid UTF-8` };
  }
  return undefined;
}
