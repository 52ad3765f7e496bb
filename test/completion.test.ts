// `pgfactory completion bash|zsh|fish`: the scripts are run in the real shells (bash always; zsh
// and fish, see support/tools.ts for when they may be missing) and must offer exactly the commands
// and options `--help` lists.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { completionScript, describeProgram } from '../src/completion.js';
import { runCli, scratchDir } from './helpers.js';
import { hasCommand, skipWithout } from './support/tools.js';

const SKIP_ZSH = skipWithout('zsh', hasCommand('zsh'), 'zsh', 'the zsh completion tests');
const SKIP_FISH = skipWithout('fish', hasCommand('fish'), 'fish', 'the fish completion tests');

const dir = scratchDir();
const scripts: Record<'bash' | 'zsh' | 'fish', string> = { bash: '', zsh: '', fish: '' };
/** Every command path and what its --help lists: [path, subcommands, options]. */
const helpTree: Array<{ path: string[]; commands: string[]; options: string[] }> = [];

/** Names in the "Options:" and "Commands:" sections of `pgfactory <path> --help`. */
async function helpOf(commandPath: string[]): Promise<{ commands: string[]; options: string[] }> {
  const help = await runCli([...commandPath, '--help'], { noDatabaseUrl: true });
  expect(help.code).toBe(0);
  const section = (title: string) => {
    const block = help.stdout.split('\n\n').find((part) => part.startsWith(`${title}:\n`));
    return block === undefined ? [] : block.split('\n').slice(1);
  };
  const options = section('Options').flatMap((line) => /^ {2}(-[\w-]+)(?:, (--[\w-]+))?/.exec(line)?.slice(1).filter((name) => name !== undefined) ?? []);
  const commands = section('Commands').flatMap((line) => /^ {2}([\w-]+)/.exec(line)?.[1] ?? []);
  return { commands, options };
}

beforeAll(async () => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const result = await runCli(['completion', shell], { noDatabaseUrl: true });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    scripts[shell] = result.stdout;
    fs.writeFileSync(path.join(dir, `pgfactory.${shell}`), result.stdout);
  }
  const walk = async (commandPath: string[]) => {
    const help = await helpOf(commandPath);
    helpTree.push({ path: commandPath, ...help });
    for (const child of help.commands.filter((name) => name !== 'help')) await walk([...commandPath, child]);
  };
  await walk([]);
});

/** The candidates bash's completion function offers for `words` (the last one is being completed). */
function bashComplete(...words: string[]): string[] {
  const program = `
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
_pgfactory
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', program, 'bash', path.join(dir, 'pgfactory.bash'), ...words], { cwd: dir, encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '');
}

/** What zsh's completion function hands to compadd/_describe/_files (zsh then filters by prefix). */
function zshComplete(...words: string[]): string[] {
  const program = `
compdef() { : }
_describe() { local entry; for entry in "\${(@P)4}"; do print -r -- "\${entry%%:*}"; done }
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_files() { print -r -- '<files>' }
_message() { print -r -- '<value>' }
source "$1"; shift
words=("$@"); CURRENT=$#
_pgfactory`;
  const out = execFileSync('zsh', ['-f', '-c', program, 'zsh', path.join(dir, 'pgfactory.zsh'), ...words], { cwd: dir, encoding: 'utf8' });
  return out.split('\n').filter((line) => line !== '');
}

/** fish's own answer for a command line (`complete -C`), names only. */
function fishComplete(line: string): string[] {
  const out = execFileSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', path.join(dir, 'pgfactory.fish'), line], { cwd: dir, encoding: 'utf8' });
  return out.split('\n').filter((entry) => entry !== '').map((entry) => entry.split('\t')[0]);
}

const FORMATS = ['table', 'csv', 'tsv', 'json', 'ndjson'];
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

describe('completion bash', () => {
  it('completes command names, option names and option choices', () => {
    expect(bashComplete('pgfactory', 'qu')).toEqual(['query']);
    expect(bashComplete('pgfactory', 'query', '--for')).toEqual(['--format']);
    expect(bashComplete('pgfactory', 'query', '--format', '')).toEqual(FORMATS);
    expect(bashComplete('pgfactory', 'query', '--format', 'n')).toEqual(['ndjson']);
    expect(bashComplete('pgfactory', 'query', '--sslmode', 'verify-')).toEqual(['verify-ca', 'verify-full']);
    expect(bashComplete('pgfactory', 'insert', 't', '--on-error', '')).toEqual(['abort', 'skip']);
    expect(bashComplete('pgfactory', 'bench', '--mode', '')).toEqual(['fresh', 'pooled', 'both']);
  });

  it('completes subcommands and positional choices', () => {
    expect(bashComplete('pgfactory', '')).toEqual(expect.arrayContaining(['query', 'insert', 'bench', 'config', 'embedded', 'completion', 'help']));
    expect(bashComplete('pgfactory', 'embedded', '')).toEqual(['start', 'stop', 'status', 'help']);
    expect(bashComplete('pgfactory', 'embedded', 'st')).toEqual(['start', 'stop', 'status']);
    expect(bashComplete('pgfactory', 'embedded', 'status', '--')).toEqual(['--uri', '--help']);
    expect(bashComplete('pgfactory', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    expect(bashComplete('pgfactory', 'help', 'em')).toEqual(['embedded']);
    expect(bashComplete('pgfactory', 'embedded', 'help', '')).toEqual(['start', 'stop', 'status']);
  });

  it('skips option values when finding the command, and handles --opt=value', () => {
    // "-d embedded" is a value, not the embedded command.
    expect(bashComplete('pgfactory', 'query', '-d', 'embedded', '--emb')).toEqual(['--embedded']);
    // bash splits "--format=c" into "--format" "=" "c" (COMP_WORDBREAKS has "=").
    expect(bashComplete('pgfactory', 'query', '--format', '=', '')).toEqual(FORMATS);
    expect(bashComplete('pgfactory', 'query', '--format', '=')).toEqual(FORMATS);
    expect(bashComplete('pgfactory', 'query', '--format', '=', 'c')).toEqual(['csv']);
    expect(bashComplete('pgfactory', 'query', '--format', '=', 'csv', '--ti')).toEqual(['--timing']);
    // Without "=" in COMP_WORDBREAKS it arrives as one word.
    expect(bashComplete('pgfactory', 'query', '--sslmode=re')).toEqual(['--sslmode=require']);
  });

  it('completes file names for options that take a path, and nothing for free values', () => {
    fs.mkdirSync(path.join(dir, 'sql'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'sql', 'migrate one.sql'), '');
    fs.writeFileSync(path.join(dir, 'sql', 'seed.sql'), '');
    expect(bashComplete('pgfactory', 'query', '-f', 'sql/').sort()).toEqual(['sql/migrate one.sql', 'sql/seed.sql']);
    expect(bashComplete('pgfactory', 'insert', 't', '--reject-file', 'sql/s')).toEqual(['sql/seed.sql']);
    expect(bashComplete('pgfactory', 'query', '--param', '')).toEqual([]);
  });

  it('offers exactly the commands and options that --help lists, for every command', () => {
    for (const node of helpTree) {
      const at = ['pgfactory', ...node.path];
      expect(bashComplete(...at, '-').sort(), at.join(' ')).toEqual([...node.options].sort());
      if (node.commands.length > 0) expect(bashComplete(...at, ''), at.join(' ')).toEqual(node.commands);
    }
    // The walk reached every level (new commands are welcome: they are checked above as well).
    expect(helpTree.map((node) => node.path.join(' '))).toEqual(expect.arrayContaining(
      ['', 'query', 'insert', 'bench', 'config', 'embedded', 'embedded start', 'embedded stop', 'embedded status', 'completion'],
    ));
  });
});

describe('completion zsh', () => {
  it('mentions every command and option', () => {
    expect(scripts.zsh.startsWith('#compdef pgfactory\n')).toBe(true);
    for (const node of helpTree) {
      for (const name of [...node.commands, ...node.options]) expect(scripts.zsh).toContain(`'${name}:`);
    }
    for (const value of [...FORMATS, ...SSLMODES]) expect(scripts.zsh).toContain(`'${value}'`);
  });

  it.skipIf(SKIP_ZSH)('is valid zsh', () => {
    execFileSync('zsh', ['-n', path.join(dir, 'pgfactory.zsh')]);
  });

  it.skipIf(SKIP_ZSH)('offers the commands, options and choices at the cursor', () => {
    // zsh filters by the typed prefix itself: the function offers all commands.
    expect(zshComplete('pgfactory', 'qu')).toEqual(helpTree[0].commands);
    expect(zshComplete('pgfactory', 'query', '--for')).toContain('--format');
    expect(zshComplete('pgfactory', 'query', '--format', '')).toEqual(FORMATS);
    expect(zshComplete('pgfactory', 'query', '-d', 'embedded', '--sslmode', '')).toEqual(SSLMODES);
    expect(zshComplete('pgfactory', 'embedded', '')).toEqual(['start', 'stop', 'status', 'help']);
    expect(zshComplete('pgfactory', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    expect(zshComplete('pgfactory', 'query', '--file', '')).toEqual(['<files>']);
    for (const node of helpTree) {
      expect(zshComplete('pgfactory', ...node.path, '-').sort()).toEqual([...node.options].sort());
    }
  });
});

describe('completion fish', () => {
  it('mentions every command and option', () => {
    for (const node of helpTree) {
      for (const name of node.commands) expect(scripts.fish).toContain(`-a ${name} `);
      for (const name of node.options) expect(scripts.fish).toContain(name.startsWith('--') ? `-l ${name.slice(2)}` : `-s ${name.slice(1)}`);
    }
    expect(scripts.fish).toContain(`-l format -x -a '${FORMATS.join(' ')}'`);
    expect(scripts.fish).toContain(`-l sslmode -x -a '${SSLMODES.join(' ')}'`);
  });

  it.skipIf(SKIP_FISH)('is valid fish', () => {
    execFileSync('fish', ['--no-execute', path.join(dir, 'pgfactory.fish')]);
  });

  it.skipIf(SKIP_FISH)('completes in fish itself', () => {
    expect(fishComplete('pgfactory qu')).toEqual(['query']);
    expect(fishComplete('pgfactory query --for')).toEqual(['--format']);
    expect(fishComplete('pgfactory query --format ').sort()).toEqual([...FORMATS].sort());
    expect(fishComplete('pgfactory query --sslmode=verify-')).toEqual(['--sslmode=verify-ca', '--sslmode=verify-full']);
    expect(fishComplete('pgfactory embedded ').sort()).toEqual(['help', 'start', 'status', 'stop']);
    expect(fishComplete('pgfactory embedded help ').sort()).toEqual(['start', 'status', 'stop']);
    expect(fishComplete('pgfactory embedded status --').sort()).toEqual(['--help', '--uri']);
    expect(fishComplete('pgfactory completion ').sort()).toEqual(['bash', 'fish', 'zsh']);
    for (const node of helpTree) {
      const line = ['pgfactory', ...node.path, '-'].join(' ');
      expect(fishComplete(line).sort(), line).toEqual([...node.options].sort());
    }
  });
});

describe('completion errors', () => {
  it('an unknown shell is a one-line usage error, exit 1', async () => {
    const result = await runCli(['completion', 'tcsh'], { noDatabaseUrl: true });
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe("pgfactory: error: command-argument value 'tcsh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.\n");
    expect(result.code).toBe(1);
  });

  it('a missing shell is a one-line usage error, exit 1', async () => {
    const result = await runCli(['completion'], { noDatabaseUrl: true });
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe("pgfactory: error: missing required argument 'shell'\n");
    expect(result.code).toBe(1);
  });
});

describe('completion script builder', () => {
  const program = () => {
    const root = new Command('tool').helpOption('--help', 'show help');
    root.command('run')
      .description("runs it: 'quoted' and \\ backslashed\nsecond line ignored")
      .addOption(new Option('--level <n>', "how 'loud'").choices(['low', 'high']))
      .addOption(new Option('--secret', 'hidden').hideHelp())
      .option('-o, --out <path>', 'where to write');
    return root;
  };

  it('describes visible commands and options only, with value kinds', () => {
    const tree = describeProgram(program());
    const run = tree.commands.find((node) => node.name === 'run')!;
    expect(run.description).toBe("runs it: 'quoted' and \\ backslashed");
    expect(run.options.map((option) => [option.short, option.long, option.value, option.choices])).toEqual([
      [undefined, '--level', 'choices', ['low', 'high']],
      ['-o', '--out', 'files', []],
      [undefined, '--help', 'none', []],
    ]);
  });

  it('quotes descriptions for each shell', () => {
    expect(completionScript('fish', program())).toContain(`-a run -d 'runs it: \\'quoted\\' and \\\\ backslashed'`);
    expect(completionScript('zsh', program())).toContain(`'run:runs it: '\\''quoted'\\'' and \\ backslashed'`);
    expect(completionScript('bash', program())).toContain(`'run|--level') echo 'choices low high'; return 0 ;;`);
  });

  it('refuses a name that cannot be completed as a plain word', () => {
    const root = new Command('tool');
    root.addOption(new Option('--mode <m>', 'mode').choices(['a b']));
    expect(() => completionScript('bash', root)).toThrow('completion: "a b" cannot be completed as a plain word');
  });
});
