/**
 * The local password the mail client uses on localhost: random, and easy to read off the screen and type
 * into an old program: four groups of four lower-case letters, without l and o (they pass for 1 and 0).
 * 24 letters ^ 16 = about 73 bits.
 */
import { randomInt } from 'node:crypto';

const LETTERS = 'abcdefghijkmnpqrstuvwxyz';

export function generateLocalPassword(groups = 4, groupLength = 4): string {
  const parts: string[] = [];
  for (let g = 0; g < groups; g++) {
    let part = '';
    for (let i = 0; i < groupLength; i++) part += LETTERS[randomInt(LETTERS.length)];
    parts.push(part);
  }
  return parts.join('-');
}
