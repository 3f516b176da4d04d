import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Invariant 2 (README "Data and invariants"): `src/backfill` never reads or writes the framework
 * `watermarks` table; `src/indexer` never touches the backfill tables. Checked on the code itself,
 * following imports: a module either folder reaches (outside the schema definitions) is held to
 * the folder's rule.
 */

type Tree = Map<string, string>;

function withoutComments(text: string): string {
  return text.replaceAll(/\/\*[\s\S]*?\*\//g, '').replaceAll(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

/** Every .ts file under src/, by path relative to src/. */
function sourceTree(): Tree {
  const root = path.resolve(import.meta.dirname, '../src');
  const tree: Tree = new Map();
  for (const file of readdirSync(root, { recursive: true }).map(String)) {
    if (file.endsWith('.ts')) tree.set(file.split(path.sep).join('/'), readFileSync(path.join(root, file), 'utf8'));
  }
  return tree;
}

/** The files of `tree` that `file` imports (static, dynamic and re-exports), relative specifiers only. */
function importsOf(tree: Tree, file: string): string[] {
  const code = withoutComments(tree.get(file) ?? '');
  const specifiers = [...code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.[^'"]+)['"]/g)].map((match) => match[1]);
  return specifiers.map((specifier) => path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
}

/**
 * Files reachable from the files under `folder`, themselves included. The table definitions and the
 * migration tool (which applies migrations and resets every table) are not followed: naming every
 * table is their job.
 */
function reachable(tree: Tree, folder: string): string[] {
  const seen = new Set<string>();
  const queue = [...tree.keys()].filter((file) => file.startsWith(`${folder}/`));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file) || file.startsWith('db/schema/') || file === 'db/migrate.ts') continue;
    seen.add(file);
    queue.push(...importsOf(tree, file));
  }
  return [...seen].sort();
}

/** The backfill's own watermark table and module share the word; they are fine. */
const BACKFILL_OWN = /package_backfill_watermarks|packageBackfillWatermarks|['"]\.\/watermarks\.ts['"]/g;
const FRAMEWORK_WATERMARKS = /\bwatermarks\b|indexer\/watermark\.ts/;
const BACKFILL_TABLES = /package_backfill_|packageBackfill|schema\/backfill(\.ts)?['"]/;

/** Problems with the rule that src/backfill stays away from the framework watermarks. */
function backfillViolations(tree: Tree): string[] {
  const problems: string[] = [];
  for (const file of [...tree.keys()].filter((name) => name.startsWith('backfill/'))) {
    for (const imported of importsOf(tree, file)) {
      if (imported.startsWith('indexer/') && imported !== 'indexer/registry.ts') problems.push(`${file} imports ${imported} (only indexer/registry.ts is allowed)`);
    }
  }
  for (const file of reachable(tree, 'backfill')) {
    const code = withoutComments(tree.get(file) ?? '').replaceAll(BACKFILL_OWN, '');
    if (FRAMEWORK_WATERMARKS.test(code)) problems.push(`${file} (reached from src/backfill) references the framework watermarks`);
  }
  return problems;
}

/** Problems with the rule that src/indexer stays away from the backfill tables. */
function indexerViolations(tree: Tree): string[] {
  const problems: string[] = [];
  for (const file of reachable(tree, 'indexer')) {
    if (file.startsWith('backfill/')) problems.push(`${file} is imported from src/indexer`);
    else if (BACKFILL_TABLES.test(withoutComments(tree.get(file) ?? ''))) problems.push(`${file} (reached from src/indexer) references the backfill tables`);
  }
  return problems;
}

describe('table ownership', () => {
  const tree = sourceTree();

  it('src/backfill never references the framework watermarks table, directly or through what it imports', () => {
    expect(reachable(tree, 'backfill')).toContain('indexer/registry.ts');
    expect(backfillViolations(tree)).toEqual([]);
  });

  it('src/indexer never references the backfill tables, directly or through what it imports', () => {
    expect(reachable(tree, 'indexer')).toContain('db/packages.ts');
    expect(indexerViolations(tree)).toEqual([]);
  });

  it('the checks catch each way around the rules', () => {
    const clean = new Map([
      ['backfill/a.ts', "import { trackPackage } from '../indexer/registry.ts';\nimport { x } from './watermarks.ts';\nconst t = 'package_backfill_watermarks';"],
      ['backfill/watermarks.ts', 'export const x = 1;'],
      ['indexer/registry.ts', "import { indexerTrackedPackages } from '../db/schema/framework.ts';"],
      ['indexer/watermark.ts', "const t = sql`select * from watermarks`;"],
      ['db/schema/framework.ts', "export const watermarks = pgTable('watermarks', {});"],
      ['db/schema/backfill.ts', "export const packageBackfillRequests = pgTable('package_backfill_requests', {});"],
      ['db/helper.ts', 'export const y = 2;'],
    ]);
    expect(backfillViolations(clean)).toEqual([]);
    expect(indexerViolations(clean)).toEqual([]);
    const variant = (file: string, text: string) => new Map([...clean, [file, text]]);

    expect(backfillViolations(variant('backfill/b.ts', "import { watermarks } from '../db/schema/index.ts';"))).toEqual([
      'backfill/b.ts (reached from src/backfill) references the framework watermarks',
    ]);
    expect(backfillViolations(variant('backfill/b.ts', "await sql`update watermarks set checkpoint_hi_inclusive = 1`;"))).toHaveLength(1);
    expect(backfillViolations(variant('backfill/b.ts', "import { readWatermark } from '../indexer/watermark.ts';"))).toEqual([
      'backfill/b.ts imports indexer/watermark.ts (only indexer/registry.ts is allowed)',
      'backfill/b.ts (reached from src/backfill) references the framework watermarks',
      'indexer/watermark.ts (reached from src/backfill) references the framework watermarks',
    ]);
    expect(backfillViolations(variant('indexer/registry.ts', "export const read = () => sql`select * from watermarks`;"))).toEqual([
      'indexer/registry.ts (reached from src/backfill) references the framework watermarks',
    ]);
    expect(
      backfillViolations(new Map([...variant('backfill/b.ts', "import { y } from '../db/helper.ts';"), ['db/helper.ts', "export const y = sql`select * from watermarks`;"]])),
    ).toEqual(['db/helper.ts (reached from src/backfill) references the framework watermarks']);

    expect(indexerViolations(variant('indexer/c.ts', "import { packageBackfillRequests } from '../db/schema/index.ts';"))).toEqual([
      'indexer/c.ts (reached from src/indexer) references the backfill tables',
    ]);
    expect(indexerViolations(variant('indexer/c.ts', "import * as schema from '../db/schema/backfill.ts';"))).toHaveLength(1);
    expect(indexerViolations(variant('indexer/c.ts', 'await tx`delete from package_backfill_chunks`;'))).toHaveLength(1);
    expect(indexerViolations(variant('indexer/c.ts', "const { optionsKey } = await import('../backfill/a.ts');"))).toEqual([
      'backfill/a.ts is imported from src/indexer',
      'backfill/watermarks.ts is imported from src/indexer',
    ]);
    // Comments do not count.
    expect(indexerViolations(variant('indexer/c.ts', '// unlike package_backfill_requests, this table ...'))).toEqual([]);
  });
});
