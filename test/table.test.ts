import Table from 'cli-table3';
import { describe, expect, it } from 'vitest';
import { cutToWidth, formatExpanded, formatTable } from '../src/output/table.js';

describe('formatTable', () => {
  it('lays out a long result in slices exactly as one cli-table3 table would', () => {
    const columns = [{ name: 'id', typeOid: 23 }, { name: 'text', typeOid: 25 }];
    const rows = Array.from({ length: 1234 }, (_, i) => [String(i), i % 97 === 0 ? `wide 表格 ${i}\nsecond line` : 'x'.repeat(i % 13)]);
    for (const rowRules of [false, true]) {
      const reference = new Table({ head: ['id', 'text'], style: { head: [], border: [], compact: !rowRules }, colAligns: ['right', 'left'] });
      reference.push(...rows);
      expect(formatTable(columns, rows, { rowRules })).toBe(`${reference.toString()}\n(1234 rows)\n`);
    }
  });

  it('draws a rule under the header only, unless asked for rules between rows', () => {
    const rows = [['1'], ['2']];
    expect(formatTable([{ name: 'n', typeOid: 23 }], rows)).toBe('┌───┐\n│ n │\n├───┤\n│ 1 │\n│ 2 │\n└───┘\n(2 rows)\n');
    expect(formatTable([{ name: 'n', typeOid: 23 }], rows, { rowRules: true })).toBe('┌───┐\n│ n │\n├───┤\n│ 1 │\n├───┤\n│ 2 │\n└───┘\n(2 rows)\n');
  });

  it('cuts each line of a long value to the width with …, wide characters counting two', () => {
    expect(cutToWidth('abcdefgh', 5)).toBe('abcd…');
    expect(cutToWidth('abcde', 5)).toBe('abcde');
    expect(cutToWidth('表格表格', 5)).toBe('表格…');
    expect(cutToWidth('abcdefgh\nxy\n表格表格', 4)).toBe('abc…\nxy\n表…');
    expect(formatTable([{ name: 'v', typeOid: 25 }], [['x'.repeat(10_000)]], { maxValueWidth: 6 })).toBe('┌────────┐\n│ v      │\n├────────┤\n│ xxxxx… │\n└────────┘\n(1 row)\n');
  });

  it('shows NULL as --null and counts one row in the singular', () => {
    expect(formatTable([{ name: 'a', typeOid: 25 }], [[null]], { nullString: '∅' })).toBe('┌───┐\n│ a │\n├───┤\n│ ∅ │\n└───┘\n(1 row)\n');
  });
});

describe('formatExpanded', () => {
  it('aligns names by display width', () => {
    expect(formatExpanded([{ name: '名前', typeOid: 25 }, { name: 'id', typeOid: 23 }], [['Ann', '1']])).toBe('-[ RECORD 1 ]-\n名前 | Ann\nid   | 1\n(1 row)\n');
  });
});
