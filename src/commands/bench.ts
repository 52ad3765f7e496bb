// `pgfactory bench` (placeholder until its issue lands).
import { Command } from 'commander';
import type { CommandIo } from './shared.js';

export function benchCommand(_io: CommandIo): Command {
  return new Command('bench').description('bench (not yet implemented)').helpOption('--help', 'show help for bench');
}
