// A vitest reporter that ends every run with the number of skipped tests and their names, so a
// test skipped for a missing tool or with it.skip cannot pass unnoticed.
import type { Reporter, TestModule } from 'vitest/node';

const LISTED = 20;

export default class SkipSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests('skipped')) skipped.push(`${module.relativeModuleId} > ${test.fullName}`);
    }
    const lines = [`skipped: ${skipped.length} ${skipped.length === 1 ? 'test' : 'tests'}`];
    for (const name of skipped.slice(0, LISTED)) lines.push(`  ${name}`);
    if (skipped.length > LISTED) lines.push(`  … and ${skipped.length - LISTED} more`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
