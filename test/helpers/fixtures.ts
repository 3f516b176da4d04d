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

/** A suite title that says why the suite is skipped when the fixtures are absent. */
export function withFixtures(title: string): string {
  return hasMainnetFixtures() ? title : `${title} (skipped: ../shared/fixtures/sui is not present)`;
}
