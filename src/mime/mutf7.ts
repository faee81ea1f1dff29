/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII stands for itself except "&",
 * which is "&-"; everything else is UTF-16 in modified base64 ("," for "/", no padding) between "&"
 * and "-". Names are Unicode strings inside hotbridge and mUTF-7 only on the wire.
 */

/** Encodes a Unicode mailbox name for the wire. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    pending.forEach((unit, i) => bytes.writeUInt16BE(unit, i * 2));
    out += '&' + bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = [];
  };
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x20 && unit <= 0x7e) {
      flush();
      out += unit === 0x26 ? '&-' : name[i];
    } else {
      pending.push(unit);
    }
  }
  flush();
  return out;
}

/**
 * Decodes a wire mailbox name. Returns undefined for text that is not valid modified UTF-7 (a shift
 * with bad base64, an unterminated shift, an encoded printable ASCII character, odd UTF-16 length,
 * an unpaired UTF-16 surrogate).
 */
export function decodeMailboxName(wire: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < wire.length) {
    const c = wire[i];
    const code = wire.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) return undefined;
    if (c !== '&') {
      out += c;
      i++;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) return undefined;
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    const encoded = wire.slice(i + 1, end);
    if (!/^[A-Za-z0-9+,]+$/.test(encoded)) return undefined;
    const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64');
    if (bytes.length === 0 || bytes.length % 2 !== 0) return undefined;
    // Leftover bits after the last full byte must be zero, or two spellings would decode alike.
    if (Buffer.from(bytes).toString('base64').replace(/=+$/, '') !== encoded.replace(/,/g, '/')) return undefined;
    for (let j = 0; j < bytes.length; j += 2) {
      const unit = bytes.readUInt16BE(j);
      // RFC 3501: printable ASCII must not be encoded.
      if (unit >= 0x20 && unit <= 0x7e) return undefined;
      // UTF-16 (RFC 2152, RFC 2781 §2.2): a high surrogate needs a low one right after it, in the same
      // shift, and a low one never stands alone; a lone half is not a character and has no UTF-8 form.
      if (isLowSurrogate(unit)) return undefined;
      if (isHighSurrogate(unit)) {
        if (j + 3 >= bytes.length || !isLowSurrogate(bytes.readUInt16BE(j + 2))) return undefined;
        out += String.fromCharCode(unit, bytes.readUInt16BE(j + 2));
        j += 2;
        continue;
      }
      out += String.fromCharCode(unit);
    }
    i = end + 1;
  }
  return out;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
