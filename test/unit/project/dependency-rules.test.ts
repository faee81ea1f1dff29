/**
 * The dependency rules (.dependency-cruiser.cjs, docs/architecture.md) hold for src/, and they bite: a
 * fixture tree with one back-up arrow of each kind breaks every rule.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, tempDir } from '../../helpers/tmp.js';

const root = path.resolve(__dirname, '../../..');
const config = path.join(root, '.dependency-cruiser.cjs');
const depcruise = path.join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface CruiseResult {
  modules: Array<{ source: string; dependencies: Array<{ resolved: string }> }>;
  summary: { violations: Array<{ rule: { name: string }; from: string; to: string }>; totalDependenciesCruised: number };
}

/** Runs dependency-cruiser on `src` of `cwd` with the project's rules; its JSON report. */
async function cruise(cwd: string): Promise<CruiseResult> {
  // It exits non-zero when it finds violations; the report is on stdout either way.
  const { stdout } = await promisify(execFile)(process.execPath, [depcruise, 'src', '--config', config, '--output-type', 'json'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return JSON.parse(stdout) as CruiseResult;
}

/** The names of every rule in the config. */
function ruleNames(): string[] {
  const text = fs.readFileSync(config, 'utf8');
  return [...text.matchAll(/name: '([^']+)'/g)].map((match) => match[1]);
}

describe('dependency rules', () => {
  it('hold for src/, with every import resolved to its file', async () => {
    const result = await cruise(root);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)).toEqual([]);
    // A resolver that found nothing would find no violations either: the arrows must really be there.
    const server = result.modules.find((module) => module.source === 'src/downstream/imap/server.ts');
    expect(server?.dependencies.map((dependency) => dependency.resolved)).toContain('src/store/index.ts');
    expect(result.summary.totalDependenciesCruised).toBeGreaterThan(400);
  }, 180_000);

  const fixture = tempDir('hotbridge-depcruise-');
  afterAll(() => removeDir(fixture));

  it('bite: a tree with one back-up arrow of each kind breaks every rule', async () => {
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
        include: ['src'],
      }),
      'src/store/index.ts': 'export const door = 1;\n',
      // The store reaching up into a server.
      'src/store/secret.ts': "import { a } from '../downstream/imap/a.js';\nexport const secret = a;\n",
      // A server around the store's door, and into the other side (which imports it back: a cycle).
      'src/downstream/imap/a.ts':
        "import { secret } from '../../store/secret.js';\nimport { p } from '../../upstream/p.js';\nexport const a = secret + p;\n",
      'src/upstream/p.ts': "import { a } from '../downstream/imap/a.js';\nexport const p = a;\n",
      // A part importing the daemon, the daemon importing the CLI, the runtime importing a part.
      'src/runtime/r.ts': "import { d } from '../daemon/d.js';\nimport { door } from '../store/index.js';\nexport const r = d + door;\n",
      'src/daemon/d.ts': "import { c } from '../cli/c.js';\nexport const d = c;\n",
      'src/cli/c.ts': 'export const c = 1;\n',
      // MIME, the leaf, importing another part.
      'src/mime/m.ts': "import { door } from '../store/index.js';\nexport const m = door;\n",
    };
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(fixture, name)), { recursive: true });
      fs.writeFileSync(path.join(fixture, name), text);
    }
    const result = await cruise(fixture);
    const broken = new Set(result.summary.violations.map((violation) => violation.rule.name));
    expect([...broken].sort()).toEqual(ruleNames().sort());
  }, 180_000);
});
