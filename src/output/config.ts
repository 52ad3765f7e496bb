// `pgfactory config` as text: the settings table, or a JSON object keyed by setting.

export interface ConfigRow {
  setting: string;
  /** Already redacted (the password is never in here). */
  value: string;
  source: string;
}

export async function configTable(rows: ConfigRow[], paint?: (text: string) => string): Promise<string> {
  // cli-table3 is loaded only when a table is printed.
  const { formatTable } = await import('./table.js');
  return formatTable(
    ['setting', 'value', 'source'].map((name) => ({ name, typeOid: 25 })),
    rows.map((row) => [row.setting, row.value, row.source]),
    // The row-count footer means nothing here.
    { paint, footer: false },
  );
}

export function configJson(rows: ConfigRow[]): string {
  return `${JSON.stringify(Object.fromEntries(rows.map((row) => [row.setting, { value: row.value, source: row.source }])), null, 2)}\n`;
}
