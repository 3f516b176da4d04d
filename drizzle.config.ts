import { defineConfig } from 'drizzle-kit';
import { loadConfig } from './src/common/config.ts';

export default defineConfig({
  dialect: 'postgresql',
  schema: ['./src/db/schema/framework.ts', './src/db/schema/backfill.ts', './src/db/schema/rpc.ts'],
  out: './drizzle',
  // The same DATABASE_URL, default and validation as every process.
  dbCredentials: { url: loadConfig().DATABASE_URL },
});
