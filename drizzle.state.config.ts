/** drizzle-kit configuration for the state database (`make db-generate`). */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/storage/state-schema.ts',
  out: './migrations/state',
});
