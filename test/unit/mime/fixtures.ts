/** Loading the MIME fixture messages (test/fixtures/mime) for the unit tests. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/mime');

/** The raw bytes of a fixture, e.g. fixture('02-nested-multipart'). */
export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURE_DIR, `${name}.eml`));
}
