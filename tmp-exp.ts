import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createConnectionFactory } from './src/factory.js';
import { loadSettings } from './src/settings.js';
import { queryMessage, SkippingQuery } from './src/bench/skipping-query.js';

const mode = process.argv[2] ?? 'factory';
const seconds = 5;
if (isMainThread) {
  const ws = [0, 1].map(() => new Worker(new URL(import.meta.url), { argv: [mode] }));
  const results = await Promise.all(ws.map((w) => new Promise<number>((r) => w.once('message', r))));
  console.log(mode, Math.round(results.reduce((a, b) => a + b, 0) / seconds));
} else {
  const settings = loadSettings({}, { env: process.env as Record<string, string>, cwd: process.cwd() }).values;
  const message = queryMessage('SELECT 1');
  const run = (client: pg.Client) => new Promise<void>((res, rej) => client.query(new SkippingQuery('SELECT 1', message, res, rej)));
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  if (mode === 'raw') {
    const clients = await Promise.all([0, 1].map(async () => { const c = new pg.Client({ host: settings.host, port: settings.port, user: settings.user, password: settings.password, database: settings.dbname }); await c.connect(); return c; }));
    await Promise.all(clients.map(async (c) => { while (performance.now() < end) { await run(c); ops++; } }));
  } else if (mode === 'pool') {
    const pool = new pg.Pool({ host: settings.host, port: settings.port, user: settings.user, password: settings.password, database: settings.dbname, max: 2, idleTimeoutMillis: 0 });
    await Promise.all([0, 1].map(async () => { while (performance.now() < end) { const c = await pool.connect(); try { await run(c as unknown as pg.Client); } finally { c.release(); } ops++; } }));
  } else {
    const factory = createConnectionFactory(settings, { mode: 'pooled', poolSize: 2 });
    await Promise.all([0, 1].map(() => factory.withConnection(async () => undefined)));
    await Promise.all([0, 1].map(async () => { while (performance.now() < end) { await factory.withConnection(run); ops++; } }));
  }
  parentPort!.postMessage(ops);
  process.exit(0);
}
