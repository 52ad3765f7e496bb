// The commander program: wires the commands, and the one catch that turns errors into exit codes.
// Commands never call process.exit; a command file only parses options and calls core modules.
import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { configCommand } from './commands/config.js';
import { embeddedCommand } from './commands/embedded.js';
import { queryCommand } from './commands/query.js';
import { insertCommand } from './commands/insert.js';
import { benchCommand } from './commands/bench.js';
import { completionCommand } from './commands/completion.js';
import type { CommandIo } from './commands/shared.js';
import { EXIT, PgfactoryError } from './errors.js';

// For the launcher, before it writes the code cache (see src/memory.ts).
export { restoreV8Flags } from './memory.js';

declare const PGFACTORY_VERSION: string;

function colorsFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv) {
  return pc.createColors(stream.isTTY === true && env.NO_COLOR === undefined && env.TERM !== 'dumb');
}

export async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const errColors = colorsFor(process.stderr, env);
  const outColors = colorsFor(process.stdout, env);
  const io: CommandIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdinFd: 0,
    env,
    paint: { header: (text) => outColors.bold(outColors.cyan(text)) },
  };
  const program = new Command('pgfactory')
    .description('query, insert and bench PostgreSQL from the shell, through one shared connection factory')
    .version(typeof PGFACTORY_VERSION === 'string' ? PGFACTORY_VERSION : 'dev', '-V, --version')
    .helpOption('--help', 'show help')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (message, write) => write(`${errColors.red('pgfactory: error:')} ${message.replace(/^error: /, '').trimEnd()}\n`),
    });
  program.addHelpText('after', `
Examples:
  $ pgfactory query --embedded 'SELECT version()'
  $ pgfactory insert users --file users.csv
  $ pgfactory bench --mode both -c 4 -T 10`);
  // Subcommands (bench merge, bench init) too: one error format and exit status everywhere.
  const configure = (command: Command): Command => {
    command.exitOverride().configureOutput(program.configureOutput());
    command.commands.forEach(configure);
    return command;
  };
  for (const command of [queryCommand(io), insertCommand(io), benchCommand(io), configCommand(io), embeddedCommand(io), completionCommand(io, () => program)]) {
    program.addCommand(configure(command));
  }

  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with exitCode 0; commander already printed its one-line error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof PgfactoryError) {
      const [first, ...rest] = error.message.split('\n');
      process.stderr.write(`${errColors.red('pgfactory:')} ${first}\n${rest.map((line) => `${line}\n`).join('')}`);
      return error.exitCode;
    }
    // A bug, not a user error: still one line, with a hint how to get the stack.
    const err = error as Error;
    process.stderr.write(`${errColors.red('pgfactory: internal error:')} ${err?.message ?? String(error)}\n`);
    if (env.PGFACTORY_DEBUG !== undefined) process.stderr.write(`${err?.stack}\n`);
    return EXIT.usage;
  }
}

// A closed pipe (`pgfactory query … | head -1`) is a normal way for output to end.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

let finished = false;
main(process.argv).then((code) => {
  finished = true;
  process.exitCode = code;
});
// Node exits 0 when the event loop empties, even if a command is still awaiting something that can
// no longer happen (a promise on a dead socket). That must never look like success.
process.on('beforeExit', () => {
  if (finished) return;
  finished = true;
  process.stderr.write('pgfactory: internal error: the command stopped before it finished (it was waiting for something that can no longer happen)\n');
  process.exitCode = EXIT.usage;
});
