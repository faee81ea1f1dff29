/**
 * Schema version and forward-only migrations, run at open. A database written by a newer hotbridge is
 * refused rather than misread.
 */
import type { Level } from 'level';

export const SCHEMA_VERSION = 1;

/** Each entry migrates from version `index + 1` to `index + 2`. */
const MIGRATIONS: Array<(db: Level<string, unknown>) => Promise<void>> = [];

export async function runMigrations(db: Level<string, unknown>): Promise<void> {
  const meta = db.sublevel<string, unknown>('meta', { valueEncoding: 'json' });
  const writeVersion = (value: number) =>
    db.batch([{ type: 'put', sublevel: meta, key: 'schema', value }] as never, { sync: true } as never);
  const stored = await meta.get('schema');
  let version = typeof stored === 'number' ? stored : 0;
  if (version > SCHEMA_VERSION) {
    throw new Error(`the store was written by a newer hotbridge (schema ${version}, this one knows ${SCHEMA_VERSION}); upgrade hotbridge`);
  }
  if (version === 0) {
    await writeVersion(SCHEMA_VERSION);
    return;
  }
  while (version < SCHEMA_VERSION) {
    await MIGRATIONS[version - 1](db);
    version += 1;
    await writeVersion(version);
  }
}
