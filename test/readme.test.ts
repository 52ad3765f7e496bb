// Every example in README.md is run here against an embedded server of its own, so the docs
// cannot rot: each `$ command` of a console block runs in bash (state carries from block to
// block, as for a reader following along) and its output must match the lines under it, where
// `…` stands for any text and a line holding only `…` for any number of lines. The lines shown
// are what a terminal shows: the command's stdout, then its stderr; both are captured apart and
// each must match its own part. Every example must exit 0 unless the next line is `$ echo $?`,
// whose output is the exit status it must have. An output shown as JSON must parse.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyEmbedded } from '../src/embedded.js';
import { BIN, ROOT } from './helpers.js';

interface Example {
  command: string;
  expected: string[];
  /** The exit status it must have: 0 unless a `$ echo $?` example follows. */
  status: number;
}

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((match) => ({ lang: match[1], body: match[2] }));

function consoleExamples(): Example[] {
  const examples: Example[] = [];
  for (const block of blocks.filter((b) => b.lang === 'console')) {
    let statusOf: Example | undefined;
    for (const line of block.body.replace(/\n$/, '').split('\n')) {
      if (line === '$ echo $?') {
        statusOf = examples[examples.length - 1];
      } else if (statusOf !== undefined) {
        if (!/^\d+$/.test(line)) throw new Error(`README: "$ echo $?" after "${statusOf.command}" must be followed by a number, not "${line}"`);
        statusOf.status = Number(line);
        statusOf = undefined;
      } else if (line.startsWith('$ ')) {
        examples.push({ command: line.slice(2), expected: [], status: 0 });
      } else {
        examples[examples.length - 1].expected.push(line);
      }
    }
  }
  return examples;
}

/** Whether stdout matches the first expected lines and stderr all the rest (a terminal shows stdout first). */
function matchesStreams(stdout: string, stderr: string, expected: string[]): boolean {
  for (let split = 0; split <= expected.length; split += 1) {
    if (matchesExpected(stdout, expected.slice(0, split)) && matchesExpected(stderr, expected.slice(split))) return true;
  }
  return false;
}

function matchesExpected(output: string, expected: string[]): boolean {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = expected
    .map((line) => (line === '…' ? '(?:[^\\n]*\\n)*' : `${escape(line).replace(/…/g, '[^\\n]*')}\\n`))
    .join('');
  return new RegExp(`^${pattern}$`).test(output);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-readme-'));
fs.chmodSync(work, 0o755);
const embeddedDir = path.join(work, 'embedded');
const home = path.join(work, 'home');
fs.mkdirSync(home);
let env: Record<string, string> = {};

beforeAll(async () => {
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('PG') && key !== 'DATABASE_URL') env[key] = value;
  }
  env = { ...env, HOME: home, NO_COLOR: '1', PGFACTORY_EMBEDDED_DIR: embeddedDir, PATH: `${path.dirname(BIN)}:${env.PATH}` };
  execFileSync(BIN, ['embedded', 'start'], { env });
  // Examples without --embedded use the same server, as a reader's DATABASE_URL would.
  env.DATABASE_URL = execFileSync(BIN, ['embedded', 'status', '--uri'], { env, encoding: 'utf8' }).trim();
});
afterAll(async () => {
  await destroyEmbedded(embeddedDir);
  fs.rmSync(work, { recursive: true, force: true });
});

describe('README examples', () => {
  it('the quick start runs the main job against the embedded server', () => {
    const quickStart = blocks.find((b) => b.lang === 'sh')!.body.split('\n')[0];
    expect(quickStart).toMatch(/^npm install && npx pgfactory query --embedded "SELECT version\(\)"$/);
    const result = spawnSync('bash', ['-c', quickStart.replace(/^npm install && /, '')], { cwd: ROOT, env, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^┌─+┐\n│ version +│\n├─+┤\n│ PostgreSQL \d+\.\d+ on .+ │\n└─+┘\n\(1 row\)\n$/);
  });

  it('has console examples, and the matcher can fail', () => {
    expect(consoleExamples().length).toBeGreaterThan(10);
    expect(matchesExpected('a\nb\n', ['a'])).toBe(false);
    expect(matchesExpected('a x b\n', ['a … b'])).toBe(true);
    expect(matchesExpected('{\n  "a": 1\n}\n', ['{', '…'])).toBe(true);
    expect(matchesExpected('CREATE TABLE\n', ['CREATE INDEX'])).toBe(false);
    expect(matchesExpected('', [])).toBe(true);
    expect(matchesStreams('', 'pgfactory: ERROR\n', ['pgfactory: ERROR'])).toBe(true);
    expect(matchesStreams('id\n', 'inserted\n', ['id', 'inserted'])).toBe(true);
    // stderr before stdout is not what a terminal shows, and nothing may be left over.
    expect(matchesStreams('id\n', 'inserted\n', ['inserted', 'id'])).toBe(false);
    expect(matchesStreams('id\n', 'WARNING\n', ['id'])).toBe(false);
    // Failing examples say so with `$ echo $?` (which is not run as an example itself).
    expect(consoleExamples().some((example) => example.status !== 0)).toBe(true);
    expect(consoleExamples().some((example) => example.command.startsWith('echo'))).toBe(false);
  });

  for (const [index, example] of consoleExamples().entries()) {
    it(`$ ${example.command}`, () => {
      const result = spawnSync('bash', ['-c', example.command], { cwd: home, env, encoding: 'utf8' });
      if (result.status !== example.status || !matchesStreams(result.stdout, result.stderr, example.expected)) {
        // Show the whole difference, not just "false".
        const lines = (text: string) => text.replace(/\n$/, '').split('\n').filter((line, i, all) => all.length > 1 || line !== '');
        expect({ index, status: result.status, shown: [...lines(result.stdout), '(stderr:)', ...lines(result.stderr)] })
          .toEqual({ index, status: example.status, shown: example.expected });
      }
      if (example.expected[0] === '{') expect(() => JSON.parse(result.stdout), 'the JSON output parses').not.toThrow();
    });
  }

  it('the library example runs', () => {
    const code = blocks.find((b) => b.lang === 'ts')!.body;
    // Inside the package folder, so `import … from 'pgfactory'` resolves to this package itself.
    const file = path.join(ROOT, `.readme-example-${process.pid}.mjs`);
    fs.writeFileSync(file, transformSync(code, { loader: 'ts', format: 'esm' }).code);
    try {
      const result = spawnSync(process.execPath, [file], { cwd: home, env, encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.stdout).toMatch(/^\[ \{ one: 1 \} \] \{\n {2}mode: 'pooled',\n {2}connections_opened: 1,/);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
