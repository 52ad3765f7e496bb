import Table from 'cli-table3';
import { describe, expect, it } from 'vitest';
import { formatExpanded, formatTable } from '../src/output/table.js';

describe('formatTable', () => {
  it('lays out a long result in slices exactly as one cli-table3 table would', () => {
    const columns = [{ name: 'id', typeOid: 23 }, { name: 'text', typeOid: 25 }];
    const rows = Array.from({ length: 1234 }, (_, i) => [String(i), i % 97 === 0 ? `wide 表格 ${i}\nsecond line` : 'x'.repeat(i % 13)]);
    const reference = new Table({ style: { head: [], border: [], compact: false }, colAligns: ['right', 'left'] });
    reference.push(['id', 'text'], ...rows);
    expect(formatTable(columns, rows)).toBe(`${reference.toString()}\n(1234 rows)\n`);
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
