// `pgfactory insert` (placeholder until its issue lands).
import { Command } from 'commander';
import type { CommandIo } from './shared.js';

export function insertCommand(_io: CommandIo): Command {
  return new Command('insert').description('insert (not yet implemented)').helpOption('--help', 'show help for insert');
}
