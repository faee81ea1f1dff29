// What happens to the provider's copies, said the same everywhere and as the code does it: the set-up
// prompt, the config comments set-up writes, the README, docs/config.md, docs/setup.md and docs/safety.md
// all carry the sentences derived from the defaults the real loader applies. None of them may say the old
// guide's "you'll have to delete in both places", which holds only with delete_on_expunge = true.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepCopyHelp } from '../../../src/cli/setup/ask-account.js';
import { configText } from '../../../src/cli/setup/config-text.js';
import { deletionWords } from '../../../src/config/deletion-text.js';
import { DELETION_DEFAULTS, resolveConfig } from '../../../src/config/load.js';
import { fencedBlocks, markdownFiles, REPO_ROOT } from '../../helpers/docs.js';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** The defaults as the loader applies them to an account that says nothing. */
function loaderDefaults(): typeof DELETION_DEFAULTS {
  const [account] = resolveConfig({ accounts: [{ address: 'ann@hotmail.com' }] }, '/nowhere/config.toml').accounts;
  return {
    leaveOnServer: account.leaveOnServer,
    deleteOnExpunge: account.deleteOnExpunge,
    deleteOnServerAfterMs: account.deleteOnServerAfterMs,
  } as typeof DELETION_DEFAULTS;
}

/** Markdown joins lines; the sentences are compared with line breaks as spaces. */
const flat = (text: string) => text.replace(/\s*\n\s*/g, ' ');

describe('deletion, said the same everywhere', () => {
  const defaults = loaderDefaults();
  const docs = deletionWords('the provider', defaults);

  it('the wording follows the defaults the loader applies', () => {
    expect(defaults).toEqual(DELETION_DEFAULTS);
    expect(defaults.leaveOnServer).toBe(true);
    expect(docs.keep).toContain(defaults.deleteOnExpunge ? "deletes the provider's copy too" : "leaves the provider's copy");
  });

  it('set-up asks with these words, and writes them into the config', () => {
    const outlook = deletionWords('Outlook.com', defaults);
    expect(keepCopyHelp('Outlook.com')).toEqual([
      expect.stringContaining('Keep a copy of your mail at Outlook.com?'),
      `  ${outlook.keep}`,
      `  ${outlook.move}`,
    ]);
    const keep = configText({ address: 'ann@hotmail.com', provider: 'outlook', leaveOnServer: true, auth: { method: 'oauth2' } });
    expect(keep).toContain(`leave_on_server = true\n# ${docs.keep}\n`);
    const move = configText({ address: 'ann@hotmail.com', provider: 'outlook', leaveOnServer: false, auth: { method: 'oauth2' } });
    expect(move).toContain(`leave_on_server = false\n# ${docs.move}\n`);
  });

  it('the README, docs/config.md, docs/setup.md and docs/safety.md say the same', () => {
    const core = docs.keep.replace(/^Yes: /, '');
    expect(flat(read('README.md'))).toContain(core);
    expect(flat(read('docs/safety.md'))).toContain(core);
    for (const file of ['docs/config.md', 'docs/setup.md']) {
      expect(flat(read(file)), file).toContain(docs.keep);
      expect(flat(read(file)), file).toContain(docs.move);
    }
    expect(flat(read('docs/config.md'))).toContain(docs.ageLimit);
  });

  it('nothing says "delete in both places", in the docs or the code', () => {
    const wrong = /delete[sd]? (it )?in both places|you (also )?delete there|delete here you (also )?delete there/i;
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
        const rel = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(rel);
        else if (entry.name.endsWith('.ts')) sources.push(rel);
      }
    };
    walk('src');
    for (const file of [...markdownFiles(), ...sources]) expect(read(file), file).not.toMatch(wrong);
  });

  it('an example with delete_on_server_after says what it deletes; the README shows none', () => {
    expect(read('README.md')).not.toMatch(/delete_on_server_after\s*=/);
    for (const file of markdownFiles()) {
      for (const block of fencedBlocks(file).filter((b) => b.lang === 'toml')) {
        for (const line of block.body.split('\n').filter((l) => /^\s*delete_on_server_after\s*=/.test(l))) {
          expect(line, `${file}:${block.line}`).toMatch(/#.*disappear from webmail and your phone/);
        }
      }
    }
  });
});
