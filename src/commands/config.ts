// `pgfactory config`: the resolved connection settings and where each came from.
import { Command, Option } from 'commander';
import { addConnectionOptions, resolveCommandSettings, type ConnectionFlags } from '../context.js';
import type { CommandIo } from './shared.js';

interface ConfigFlags extends ConnectionFlags {
  format: 'table' | 'json';
}

export function configCommand(io: CommandIo): Command {
  const command = new Command('config')
    .description('show the resolved connection settings and the source of each (password redacted)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'));
  addConnectionOptions(command).helpOption('--help', 'show help for config');
  command.addHelpText('after', `
Examples:
  $ pgfactory config
  $ PGHOST=db.example.com pgfactory config -d 'postgres://app@localhost/app' --format json`);
  command.action(async (flags: ConfigFlags) => {
    let overrides;
    if (flags.embedded === true) {
      // Show what --embedded would use without starting anything.
      const { embeddedStatus, defaultEmbeddedDir } = await import('../embedded.js');
      const status = embeddedStatus(defaultEmbeddedDir(io.env));
      overrides = { source: 'embedded', values: { host: '127.0.0.1', ...(status.port !== undefined ? { port: status.port } : {}), user: 'postgres', dbname: 'postgres' } };
    }
    const { redactedSettings } = await import('../settings.js');
    const rows = redactedSettings(await resolveCommandSettings(flags, io, overrides));
    if (flags.format === 'json') {
      io.stdout.write(JSON.stringify(Object.fromEntries(rows.map((row) => [row.setting, { value: row.value, source: row.source }])), null, 2) + '\n');
      return;
    }
    const { formatTable } = await import('../output/table.js');
    const text = formatTable(
      ['setting', 'value', 'source'].map((name) => ({ name, typeOid: 25 })),
      rows.map((row) => [row.setting, row.value, row.source]),
      { paint: io.paint?.header },
    );
    // The row-count footer means nothing here.
    io.stdout.write(text.replace(/\(\d+ rows?\)\n$/, ''));
  });
  return command;
}
