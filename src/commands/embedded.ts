// `pgfactory embedded start|stop|status`: manage the long-running embedded PostgreSQL.
import { Command, Option } from 'commander';
import type { CommandIo } from './shared.js';

export function embeddedCommand(io: CommandIo): Command {
  const command = new Command('embedded')
    .description('manage the embedded PostgreSQL (real binaries from npm, data kept per user)')
    .helpOption('--help', 'show help for embedded');
  command.addHelpText('after', `
Examples:
  $ pgfactory embedded start
  $ psql "$(pgfactory embedded status --uri)"
  $ pgfactory embedded stop`);

  command.command('start')
    .description('start the embedded server and leave it running (initialises it the first time)')
    .helpOption('--help', 'show help for embedded start')
    .action(async () => {
      const embedded = await import('../embedded.js');
      const { embeddedStartText } = await import('../output/embedded.js');
      const server = await embedded.ensureEmbedded(embedded.defaultEmbeddedDir(io.env));
      io.stdout.write(embeddedStartText(server.startedHere, embedded.embeddedUri(server, false)));
    });

  command.command('stop')
    .description('stop the embedded server (its data is kept)')
    .helpOption('--help', 'show help for embedded stop')
    .action(async () => {
      const embedded = await import('../embedded.js');
      const { embeddedStopText } = await import('../output/embedded.js');
      io.stdout.write(embeddedStopText(await embedded.stopEmbedded(embedded.defaultEmbeddedDir(io.env))));
    });

  command.command('status')
    .description('say whether the embedded server runs, and print its connection URI (without the password)')
    .addOption(new Option('--uri', 'print only the URI, with the password, for psql "$(…)" (nothing and exit 2 when not running)'))
    .helpOption('--help', 'show help for embedded status')
    .action(async (flags: { uri?: boolean }) => {
      const embedded = await import('../embedded.js');
      const status = embedded.embeddedStatus(embedded.defaultEmbeddedDir(io.env));
      if (flags.uri === true) {
        if (status.uri === undefined) throw new embedded.EmbeddedError('the embedded server is not running (pgfactory embedded start)');
        io.stdout.write(`${status.uri}\n`);
        return;
      }
      const { embeddedStatusText } = await import('../output/embedded.js');
      io.stdout.write(embeddedStatusText(status));
    });
  return command;
}
