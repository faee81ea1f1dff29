/** The fenced blocks of the docs, for tests that run what the docs show exactly as written. */
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface FencedBlock {
  /** The info string after the opening fence (`sh`, `toml`, `text`, …). */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Every fenced code block of a Markdown file (relative to the repository root). */
export function fencedBlocks(file: string): FencedBlock[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const blocks: FencedBlock[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    blocks.push({ lang: open[1], body: `${body.join('\n')}\n`, line: start + 1 });
  }
  return blocks;
}

/** The one block of `file` whose first line starts with `first`. */
export function docsBlock(file: string, first: string): string {
  const found = fencedBlocks(file).filter((block) => block.body.startsWith(first));
  if (found.length !== 1) throw new Error(`${file}: expected one block starting with ${JSON.stringify(first)}, found ${found.length}`);
  return found[0].body;
}

/** Every Markdown file the docs test reads: the README and docs/. */
export function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) files.push(rel);
    }
  };
  walk('docs');
  return files.sort();
}
