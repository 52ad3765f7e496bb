// The system tools some tests need (pgbouncer, tmux, zsh, fish, openssl), and whether a missing
// one may skip those tests. Where the tools can be installed the way .ci/run installs them (as
// root with apt-get), or under CI, nothing may be skipped: a missing tool fails the run with a
// test that names the package to install. Elsewhere (a developer's laptop) the tests are skipped
// with a warning, and the skip count printed at the end of `npm test` shows it.
import { spawnSync } from 'node:child_process';
import { it } from 'vitest';

/** Whether `name` is a command on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** True under CI, or as root with apt-get: a missing tool is a failure, not a skip. */
export function skippingForbidden(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI;
  if (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') return true;
  return typeof process.getuid === 'function' && process.getuid() === 0 && hasCommand('apt-get');
}

/**
 * Call at the top of a test file that needs `tool` (found: `present`). Returns whether its tests
 * should be skipped: only when the tool is missing and skipping is allowed. When skipping is
 * forbidden the tests run (and fail), after a test that says which package is missing.
 */
export function skipWithout(tool: string, present: boolean, aptPackage: string, needs: string): boolean {
  if (present) return false;
  const install = `apt-get install -y ${aptPackage}`;
  if (skippingForbidden()) {
    it(`${tool} is installed (${needs})`, () => {
      throw new Error(`${tool} is missing: ${install}. Skipping is not allowed here (CI, or root with apt-get, as .ci/run installs it)`);
    });
    return false;
  }
  console.warn(`SKIPPED ${needs}: ${tool} is not installed (${install})`);
  return true;
}
