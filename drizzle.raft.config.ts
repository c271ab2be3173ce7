/** drizzle-kit configuration for the Raft log database (`make db-generate`). */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/raft/schema.ts',
  out: './migrations/raft',
});
