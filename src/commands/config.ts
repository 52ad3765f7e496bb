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
      const { embeddedSettings, embeddedState, defaultEmbeddedDir } = await import('../embedded.js');
      overrides = { source: 'embedded', values: embeddedSettings(embeddedState(defaultEmbeddedDir(io.env))) };
    }
    const { redactedSettings } = await import('../settings.js');
    const rows = redactedSettings(await resolveCommandSettings(flags, io, overrides));
    const { configJson, configTable } = await import('../output/config.js');
    io.stdout.write(flags.format === 'json' ? configJson(rows) : await configTable(rows, io.paint?.header));
  });
  return command;
}
