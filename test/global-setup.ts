import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { findServiceProblems } from '../src/common/services.ts';
import { MIGRATIONS_FOLDER, quoteIdent, runMigrations } from '../src/db/migrate.ts';
import { TEST_ADMIN_URL, TEST_REDIS_URL, testDatabaseUrl } from './helpers/env.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    testRunId: string;
    templateDatabase: string;
  }
}

/** A template database per migration set: test files clone it instead of migrating each time. */
function templateName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_FOLDER, { recursive: true }).map(String).sort()) {
    if (file.endsWith('.sql') || file.endsWith('.json')) hash.update(file).update(readFileSync(path.join(MIGRATIONS_FOLDER, file)));
  }
  return `sbt_template_${hash.digest('hex').slice(0, 12)}`;
}

export default async function setup(project: TestProject) {
  const problems = await findServiceProblems({ postgres: { url: TEST_ADMIN_URL, variable: 'TEST_DATABASE_URL' }, redis: { url: TEST_REDIS_URL, variable: 'TEST_REDIS_URL' } });
  if (problems.length > 0) {
    for (const { line } of problems) console.error(line);
    process.exit(1);
  }

  const runId = randomBytes(4).toString('hex');
  const template = templateName();
  const admin = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin`select pg_advisory_lock(7345001)`;
    const exists = await admin`select 1 from pg_database where datname = ${template}`;
    if (exists.length === 0) {
      await runMigrations(testDatabaseUrl(`${template}_build`), { reset: true });
      await admin.unsafe(`alter database ${quoteIdent(`${template}_build`)} rename to ${quoteIdent(template)}`);
    }
    await admin`select pg_advisory_unlock(7345001)`;
  } finally {
    await admin.end({ timeout: 5 });
  }

  project.provide('testRunId', runId);
  project.provide('templateDatabase', template);

  return async () => {
    const sql = postgres(TEST_ADMIN_URL, { max: 1, onnotice: () => {} });
    try {
      const leftovers = await sql`select datname from pg_database where datname like ${`sbt_${runId}_%`}`;
      for (const { datname } of leftovers) await sql.unsafe(`drop database if exists ${quoteIdent(datname)} with (force)`);
    } finally {
      await sql.end({ timeout: 5 });
    }
  };
}
