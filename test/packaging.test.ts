// The npm package as a user gets it: `npm pack` holds only what runs, and the tarball installs
// globally (here into a temporary prefix) and works from any directory, --embedded included.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyEmbedded } from '../src/embedded.js';
import { databaseUrl, ROOT } from './helpers.js';

const VERSION = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
// 755 all the way down: as root the embedded server runs as the `postgres` OS user, which must
// reach both the installed binaries (under the prefix) and its data directory.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-pack-'));
fs.chmodSync(work, 0o755);
const prefix = path.join(work, 'prefix');
const elsewhere = path.join(work, 'elsewhere');
const embeddedDir = path.join(work, 'embedded');
const consumer = path.join(work, 'consumer');
let tarball = '';
let packedFiles: string[] = [];

function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: options.env, timeout: options.timeoutMs, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      resolve({ stdout, stderr, code: error === null ? 0 : typeof error.code === 'number' ? error.code : null });
    });
  });
}

/** What a user's shell would have: the installed bin first, node, the system; no PG* variables. */
function userEnv(): NodeJS.ProcessEnv {
  return {
    PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(path.delimiter),
    HOME: elsewhere,
    LANG: 'C.UTF-8',
    NO_COLOR: '1',
    PGFACTORY_EMBEDDED_DIR: path.join(embeddedDir, 'home'),
  };
}

beforeAll(async () => {
  fs.mkdirSync(prefix, { mode: 0o755 });
  fs.mkdirSync(elsewhere, { mode: 0o755 });
  fs.mkdirSync(embeddedDir, { mode: 0o755 });
  // `npm pack` runs `prepare` (the build); build once here only when dist/ is missing.
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.cjs'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, env: process.env, timeoutMs: 120_000 });
  expect(pack.code, pack.stderr).toBe(0);
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(work, info.filename);
  packedFiles = info.files.map((file) => file.path);

  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel', 'error', tarball], {
    cwd: work,
    env: process.env,
    timeoutMs: 400_000,
  });
  expect(install.code, install.stderr).toBe(0);
}, 480_000);

afterAll(async () => {
  await destroyEmbedded(userEnv().PGFACTORY_EMBEDDED_DIR!);
  fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('npm pack', () => {
  it('is named after the package version', () => {
    expect(path.basename(tarball)).toBe(`pgfactory-${VERSION}.tgz`);
  });

  it('holds the launcher, the bundles, the declarations, README, .env.example and package.json — nothing else', () => {
    for (const file of packedFiles) {
      expect(file, `unexpected file in the package: ${file}`).toMatch(/^(bin\/pgfactory|bin\/package\.json|dist\/[\w-]+\.c?js|dist\/types\/.+\.d\.ts|README\.md|\.env\.example|package\.json|npm-shrinkwrap\.json|LICENSE)$/);
    }
    // npm-shrinkwrap.json: a global install gets the dependency versions the tests ran against.
    for (const needed of ['bin/pgfactory', 'dist/cli.cjs', 'dist/index.js', 'dist/bench-worker.js', 'dist/types/index.d.ts', 'README.md', '.env.example', 'package.json', 'npm-shrinkwrap.json']) {
      expect(packedFiles).toContain(needed);
    }
    expect(packedFiles.filter((file) => /^(src|test|bench|scripts|node_modules)\//.test(file))).toEqual([]);
  });
});

describe('installed globally from the tarball', () => {
  it('the launcher is executable and on PATH', () => {
    const launcher = path.join(prefix, 'bin', 'pgfactory');
    expect(fs.existsSync(launcher)).toBe(true);
    fs.accessSync(launcher, fs.constants.X_OK);
    const installed = path.join(prefix, 'lib', 'node_modules', 'pgfactory');
    expect(fs.readdirSync(installed).filter((name) => name !== 'node_modules' && name !== '.compile-cache').sort()).toEqual(['.env.example', 'README.md', 'bin', 'dist', 'npm-shrinkwrap.json', 'package.json']);
  });

  it('its dependencies are exactly the versions npm-shrinkwrap.json locks (the ones the tests ran against)', () => {
    const installed = path.join(prefix, 'lib', 'node_modules', 'pgfactory');
    const locked = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm-shrinkwrap.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean }> };
    const runtime = Object.entries(locked.packages).filter(([where, entry]) => where !== '' && entry.dev !== true);
    expect(runtime.length).toBeGreaterThan(10);
    const mismatched: string[] = [];
    for (const [where, entry] of runtime) {
      const file = path.join(installed, where, 'package.json');
      // Optional packages for other platforms are not installed.
      if (!fs.existsSync(file)) continue;
      const version = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
      if (version !== entry.version) mismatched.push(`${where}: ${version}, locked ${entry.version}`);
    }
    expect(mismatched).toEqual([]);
    expect(JSON.parse(fs.readFileSync(path.join(installed, 'node_modules', 'pg', 'package.json'), 'utf8')).version).toBe(locked.packages['node_modules/pg'].version);
  });

  it('the first run of a command writes its compile cache; a damaged cache is replaced, never fatal', async () => {
    const cacheDir = path.join(prefix, 'lib', 'node_modules', 'pgfactory', '.compile-cache');
    const caches = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((name) => name.startsWith('completion-')) : []);
    for (const name of caches()) fs.rmSync(path.join(cacheDir, name));
    // A cache left by an earlier build is replaced, not kept beside the new one.
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(path.join(cacheDir, 'completion-0000000000000000.bin'), 'an earlier build');
    const first = await run('pgfactory', ['completion', 'bash'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(first.code).toBe(0);
    expect(caches()).toEqual([expect.stringMatching(/^completion-[0-9a-f]{16}\.bin$/)]);
    const cacheFile = path.join(cacheDir, caches()[0]);
    expect(fs.statSync(cacheFile).size).toBeGreaterThan(10_000);
    fs.writeFileSync(cacheFile, 'not a code cache');
    const damaged = await run('pgfactory', ['completion', 'bash'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(damaged).toEqual(first);
    expect(fs.readFileSync(cacheFile, 'utf8').startsWith('not a code cache')).toBe(false);
    const cached = await run('pgfactory', ['completion', 'bash'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(cached).toEqual(first);
  });

  it("a command that changes V8's flags at run time (a large COPY output) still leaves a cache the next run accepts", async () => {
    const cacheDir = path.join(prefix, 'lib', 'node_modules', 'pgfactory', '.compile-cache');
    const caches = () => (fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((name) => name.startsWith('query-')) : []);
    for (const name of caches()) fs.rmSync(path.join(cacheDir, name));
    // Over 4 MiB of COPY output: src/memory.ts exposes gc() to collect what was read.
    const args = ['query', '-d', databaseUrl(), '--format', 'csv', "SELECT repeat('x', 100) AS x FROM generate_series(1, 100000)"];
    const runs = [];
    for (let i = 0; i < 2; i += 1) runs.push(await run('pgfactory', args, { cwd: elsewhere, env: userEnv(), timeoutMs: 60_000 }));
    const [cacheName] = caches();
    expect(caches()).toHaveLength(1);
    const before = fs.statSync(path.join(cacheDir, cacheName));
    runs.push(await run('pgfactory', args, { cwd: elsewhere, env: userEnv(), timeoutMs: 60_000 }));
    for (const result of runs) {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.length).toBe('x\n'.length + 100_000 * 101);
    }
    // A rejected cache is written again at exit (a new file renamed into place).
    const after = fs.statSync(path.join(cacheDir, cacheName));
    expect({ ino: after.ino, mtimeMs: after.mtimeMs }).toEqual({ ino: before.ino, mtimeMs: before.mtimeMs });
  }, 120_000);

  it('pgfactory --help and --version work from any directory', async () => {
    const help = await run('pgfactory', ['--help'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(help.stderr).toBe('');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pgfactory \[options\] \[command\]\n/);
    for (const command of ['query', 'insert', 'bench', 'config', 'embedded', 'completion']) expect(help.stdout).toContain(`\n  ${command} `);

    const version = await run('pgfactory', ['--version'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(version).toEqual({ stdout: `${VERSION}\n`, stderr: '', code: 0 });
  });

  it('pgfactory query --embedded runs a query on the embedded server', async () => {
    const result = await run('pgfactory', ['query', '--embedded', 'select 1 as one'], { cwd: elsewhere, env: userEnv(), timeoutMs: 300_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('┌─────┐\n│ one │\n├─────┤\n│   1 │\n└─────┘\n(1 row)\n');
    expect(result.code).toBe(0);
  }, 300_000);

  it('pgfactory completion bash works from the installed copy', async () => {
    const result = await run('pgfactory', ['completion', 'bash'], { cwd: elsewhere, env: userEnv(), timeoutMs: 30_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('complete -F _pgfactory pgfactory\n');
  });
});

describe('the library, installed into a strict TypeScript project', () => {
  it('a consumer importing createConnectionFactory compiles with strict and skipLibCheck false, and runs', async () => {
    fs.mkdirSync(path.join(consumer, 'src'), { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    fs.writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, outDir: 'dist', rootDir: 'src' },
      include: ['src'],
    }));
    fs.writeFileSync(path.join(consumer, 'src', 'main.ts'), [
      "import { createConnectionFactory, loadSettings, type ConnectionFactory } from 'pgfactory';",
      "const { values } = loadSettings({}, { env: { DATABASE_URL: process.env.CONSUMER_URL }, cwd: process.cwd() });",
      "const factory: ConnectionFactory = createConnectionFactory(values, { mode: 'fresh' });",
      "const answer: number = await factory.withConnection(async (client) => (await client.query<{ answer: number }>('SELECT 41 + 1 AS answer')).rows[0].answer);",
      'await factory.close();',
      'console.log(`answer ${answer}, connections opened ${factory.stats().connections_opened}`);',
      '',
    ].join('\n'));
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel', 'error', tarball], { cwd: consumer, env: process.env, timeoutMs: 400_000 });
    expect(install.code, install.stderr).toBe(0);
    const compile = await run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: consumer, env: process.env, timeoutMs: 120_000 });
    expect(compile.stdout + compile.stderr).toBe('');
    expect(compile.code).toBe(0);
    const result = await run(process.execPath, ['dist/main.js'], { cwd: consumer, env: { ...userEnv(), CONSUMER_URL: databaseUrl() }, timeoutMs: 60_000 });
    expect(result).toEqual({ stdout: 'answer 42, connections opened 1\n', stderr: '', code: 0 });
  }, 600_000);
});

describe('the development install', () => {
  it('every dependency install script is reviewed in allowScripts (npm 11 prints no warning on npm install)', async () => {
    const pending = await run('npm', ['install-scripts', 'ls'], { cwd: ROOT, env: process.env, timeoutMs: 60_000 });
    expect(pending.stderr).toBe('');
    expect(pending.stdout.trim()).toBe('No packages with unreviewed install scripts.');
    expect(pending.code).toBe(0);
  });
});
