// psql's meta-command vocabulary as pgfactory supports it: which commands exist, how their
// arguments are split and unquoted, and psql's boolean rules (shared by `query -f` and the
// interactive shell, which adds its own interactive commands: src/shell/commands.ts).
import { UsageError } from '../errors.js';

export const SUPPORTED_META_COMMANDS = new Set([
  'restrict', 'unrestrict', 'c', 'connect', 'i', 'include', 'ir', 'include_relative', 'echo', 'qecho',
  'set', 'unset', 'if', 'elif', 'else', 'endif', 'g', 'gset', 'gexec', 'copy', 'timing', 'pset',
]);

/** The shell's \\? lines for these commands. */
export const META_COMMAND_HELP: ReadonlyArray<{ usage: string; help: string }> = [
  { usage: '\\set [NAME [VALUE]]', help: 'set a variable (used as :NAME, :\'NAME\', :"NAME"), or list them' },
  { usage: '\\unset NAME', help: 'unset a variable' },
  { usage: '\\echo [-n] TEXT', help: 'print TEXT (\\qecho: the same)' },
  { usage: '\\if EXPR … \\elif \\else \\endif', help: 'run the lines of the first true branch (psql\'s boolean words)' },
  { usage: '\\g, \\gset [PREFIX], \\gexec', help: 'run the query buffer; store its row in variables; run each value as a statement' },
  { usage: '\\copy … from|to FILE', help: 'COPY with a file on this machine' },
  { usage: '\\i FILE, \\ir FILE', help: 'run the SQL in FILE (\\ir: relative to the current file)' },
  { usage: '\\c [DB [USER [HOST [PORT]]]]', help: 'connect again, the other settings kept' },
  { usage: '\\timing [on|off]', help: 'show how long each statement took' },
  { usage: '\\pset null TEXT | format aligned|csv', help: 'how NULL is shown; the output format' },
  { usage: '\\restrict KEY, \\unrestrict KEY', help: 'refuse other meta-commands until \\unrestrict KEY' },
];

const BOOLEANS: Array<[string, boolean, number]> = [
  // word, value, shortest accepted prefix (psql: "o" alone is ambiguous)
  ['true', true, 1], ['false', false, 1], ['yes', true, 1], ['no', false, 1], ['on', true, 2], ['off', false, 2], ['1', true, 1], ['0', false, 1],
];

/** psql's ParseVariableBool: true/false/yes/no/on/off/1/0 and their unique prefixes, any case. */
export function parseBoolean(text: string): boolean | undefined {
  const value = text.trim().toLowerCase();
  if (value === '') return undefined;
  for (const [word, result, shortest] of BOOLEANS) {
    if (value.length >= shortest && word.startsWith(value)) return result;
  }
  return undefined;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', b: '\b', r: '\r', f: '\f' };

/**
 * A meta-command's arguments as psql splits them: blank-separated; 'single quotes' unquoted with
 * backslash escapes and '' for a quote; "double quotes" kept; :NAME, :'NAME', :"NAME" replaced.
 */
export function parseMetaArgs(text: string, variables: Map<string, string>, fail: (message: string) => UsageError): string[] {
  const args: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i])) i += 1;
    if (i >= n) break;
    let arg = '';
    while (i < n && !/\s/.test(text[i])) {
      const c = text[i];
      if (c === "'") {
        i += 1;
        for (;;) {
          if (i >= n) throw fail('unterminated quoted string');
          const q = text[i];
          if (q === "'") {
            if (text[i + 1] === "'") {
              arg += "'";
              i += 2;
              continue;
            }
            i += 1;
            break;
          }
          if (q === '\\' && i + 1 < n) {
            const e = text[i + 1];
            const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
            const hex = /^x([0-9A-Fa-f]{1,2})/.exec(text.slice(i + 1, i + 4));
            if (octal !== null) {
              arg += String.fromCharCode(parseInt(octal[0], 8));
              i += 1 + octal[0].length;
            } else if (hex !== null) {
              arg += String.fromCharCode(parseInt(hex[1], 16));
              i += 1 + hex[0].length;
            } else {
              arg += ESCAPES[e] ?? e;
              i += 2;
            }
            continue;
          }
          arg += q;
          i += 1;
        }
      } else if (c === '"') {
        const close = text.indexOf('"', i + 1);
        if (close === -1) throw fail('unterminated quoted identifier');
        let end = close;
        while (text[end + 1] === '"') {
          const again = text.indexOf('"', end + 2);
          if (again === -1) throw fail('unterminated quoted identifier');
          end = again;
        }
        arg += text.slice(i, end + 1);
        i = end + 1;
      } else if (c === '`') {
        throw fail('backquoted shell commands are not supported');
      } else if (c === ':' && /^:\{\?[A-Za-z0-9_]+\}/.test(text.slice(i))) {
        // :{?NAME} tests whether NAME is set.
        const name = /^:\{\?([A-Za-z0-9_]+)\}/.exec(text.slice(i))!;
        arg += variables.has(name[1]) ? 'TRUE' : 'FALSE';
        i += name[0].length;
      } else if (c === ':') {
        const match = /^:(?:([A-Za-z0-9_]+)|'([A-Za-z0-9_]+)'|"([A-Za-z0-9_]+)")/.exec(text.slice(i));
        const name = match?.[1] ?? match?.[2] ?? match?.[3];
        const value = name === undefined ? undefined : variables.get(name);
        if (match === null || value === undefined) {
          arg += c;
          i += 1;
        } else {
          arg += match[2] !== undefined ? `'${value.replace(/'/g, "''")}'` : match[3] !== undefined ? `"${value.replace(/"/g, '""')}"` : value;
          i += match[0].length;
        }
      } else {
        arg += c;
        i += 1;
      }
    }
    args.push(arg);
  }
  return args;
}

/** The rest of the line as one argument (\copy), with :variables replaced outside quotes. */
export function wholeLine(text: string, variables: Map<string, string>): string {
  return text.replace(/('(?:[^']|'')*')|:([A-Za-z0-9_]+)/g, (all, quoted: string | undefined, name: string | undefined) =>
    quoted !== undefined || name === undefined ? all : (variables.get(name) ?? all),
  );
}
