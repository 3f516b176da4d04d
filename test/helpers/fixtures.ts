import { existsSync } from 'node:fs';
import path from 'node:path';

/** The shared real-Sui fixtures (`/work/shared/fixtures/sui` beside the repo); never copied in. */
export function mainnetFixturesDir(): string {
  return path.resolve(import.meta.dirname, '../../../shared/fixtures/sui');
}

/** False in a fresh clone without the shared folder: suites that need it skip. */
export function hasMainnetFixtures(): boolean {
  return existsSync(path.join(mainnetFixturesDir(), 'mainnet'));
}
