// `pgfactory completion bash|zsh|fish`: print a completion script built from the program itself.
import { Argument, Command } from 'commander';
import type { Shell } from '../completion.js';
import type { CommandIo } from './shared.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const satisfies readonly Shell[];

/** `program` is a getter: the script describes every command, registered before or after this one. */
export function completionCommand(io: CommandIo, program: () => Command): Command {
  const command = new Command('completion')
    .description('print a shell completion script for commands and options (bash, zsh or fish)')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(SHELLS))
    .helpOption('--help', 'show help for completion');
  command.addHelpText('after', `
Install:
  bash  $ pgfactory completion bash > ~/.local/share/bash-completion/completions/pgfactory
        or add  source <(pgfactory completion bash)  to ~/.bashrc
  zsh   $ pgfactory completion zsh > "\${fpath[1]}/_pgfactory"
        or add  source <(pgfactory completion zsh)  to ~/.zshrc, after compinit
  fish  $ pgfactory completion fish > ~/.config/fish/completions/pgfactory.fish

Examples:
  $ pgfactory completion bash
  $ source <(pgfactory completion zsh)`);
  command.action(async (shell: Shell) => {
    const { completionScript } = await import('../completion.js');
    io.stdout.write(completionScript(shell, program()));
  });
  return command;
}
