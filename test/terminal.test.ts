// What a person sees in a real terminal: pgfactory runs in a tmux pane (a shell, keystrokes sent
// with send-keys, the screen read with capture-pane): table layout and colour, the -W prompt not
// echoing the password, Ctrl-C cancelling a long query, and insert's progress bar.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, databaseUrl, scratchDir, sql } from './helpers.js';
import { hasCommand, skipWithout } from './support/tools.js';

const SKIP_TMUX = skipWithout('tmux', hasCommand('tmux'), 'tmux', 'the terminal tests');

const SCHEMA = 'terminal';
const SOCKET = `pgf-terminal-${process.pid}-${randomBytes(3).toString('hex')}`;
const TARGET = 'main';
const ESC = '\u001b[';
let socketPath: string | undefined;
let home: string;

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-u', '-L', SOCKET, ...args], { encoding: 'utf8' });
}

/** The visible screen, wrapped lines joined; with `escapes`, colours and attributes as ESC sequences;
 * with `history`, the scrollback too (output taller than the pane). */
function screen(escapes = false, history = false): string {
  return tmux('capture-pane', '-p', '-J', ...(escapes ? ['-e'] : []), ...(history ? ['-S', '-'] : []), '-t', TARGET);
}

/** Types `text` as it is: after `--`, so that text starting with '-' is not read as a flag. */
function typeText(text: string): void {
  tmux('send-keys', '-t', TARGET, '-l', '--', text);
}

/** Types `line` into the shell and presses Enter. */
function typeLine(line: string): void {
  // tmux reads a ';' that ends an argument as its own command separator: sent escaped instead.
  const body = line.endsWith(';') ? line.slice(0, -1) : line;
  if (body !== '') typeText(body);
  if (body !== line) tmux('send-keys', '-t', TARGET, '\\;');
  tmux('send-keys', '-t', TARGET, 'Enter');
}

async function waitForScreen(test: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const text = screen();
    if (test(text)) return text;
    if (performance.now() > deadline) throw new Error(`terminal: timed out waiting for ${what}; the screen shows:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Clears the screen and scrollback, and waits for a fresh prompt. */
async function freshScreen(): Promise<void> {
  typeLine('clear');
  await waitForScreen((text) => text.trim() === 'pgf$', 'a cleared screen');
  tmux('clear-history', '-t', TARGET);
}

/** Clears the screen inside the shell (Ctrl-L) and waits for its prompt alone. */
async function freshShellScreen(db: string): Promise<void> {
  tmux('send-keys', '-t', TARGET, 'C-l');
  await waitForScreen((text) => text.trim() === `${db}=>`, 'a cleared shell screen');
  tmux('clear-history', '-t', TARGET);
}

/** Runs a command line that ends with `; echo "<marker> exit=$?"`, waits for it, returns screen + status. */
async function runInPane(command: string, marker: string, timeoutMs = 60_000): Promise<{ text: string; exit: number }> {
  typeLine(`${command}; echo "${marker} exit=$?"`);
  const pattern = new RegExp(`^${marker} exit=(\\d+)$`, 'm');
  const text = await waitForScreen((shown) => pattern.test(shown), `"${marker}" to finish`, timeoutMs);
  return { text, exit: Number(pattern.exec(text)![1]) };
}

/** The screen's lines between the command line and the marker line (what the command printed). */
function printed(text: string, marker: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith('pgf$ ') && line.includes(marker));
  const end = lines.findIndex((line, index) => index > start && line.startsWith(`${marker} exit=`));
  return lines.slice(start + 1, end).map((line) => line.trimEnd());
}

describe.skipIf(SKIP_TMUX)('in a terminal (tmux)', () => {
  beforeAll(async () => {
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}; CREATE TABLE ${SCHEMA}.big (n int)`);
    home = scratchDir();
    // The shell a person would have: node and pgfactory on PATH, an empty HOME, no PG* variables.
    const env: Record<string, string> = {
      PATH: [path.join(ROOT, 'bin'), path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(path.delimiter),
      HOME: home,
      LANG: 'C.UTF-8',
      TERM: 'xterm-256color',
      DATABASE_URL: databaseUrl(),
    };
    execFileSync('tmux', ['-u', '-L', SOCKET, '-f', '/dev/null', 'new-session', '-d', '-s', TARGET, '-x', '200', '-y', '50', '-c', home, 'bash --norc --noprofile'], { env });
    socketPath = tmux('display-message', '-p', '#{socket_path}').trim();
    tmux('set-option', '-t', TARGET, 'history-limit', '5000');
    typeLine("PS1='pgf$ '");
    await freshScreen();
  });

  afterAll(async () => {
    spawnSync('tmux', ['-L', SOCKET, 'kill-server'], { stdio: 'ignore' });
    // The server leaves its socket file behind.
    if (socketPath !== undefined) fs.rmSync(socketPath, { force: true });
    await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  });

  it('a query prints a boxed table with a coloured header; NO_COLOR turns colour off', async () => {
    await freshScreen();
    const { text, exit } = await runInPane(`pgfactory query 'select 1 as n, $$hello$$ as greeting, null as nothing'`, 'table');
    expect(exit).toBe(0);
    expect(printed(text, 'table')).toEqual([
      '┌───┬──────────┬─────────┐',
      '│ n │ greeting │ nothing │',
      '├───┼──────────┼─────────┤',
      '│ 1 │ hello    │         │',
      '└───┴──────────┴─────────┘',
      '(1 row)',
    ]);
    const header = screen(true).split('\n').find((line) => line.includes('greeting') && !line.startsWith('pgf$'))!;
    expect(header).toContain(ESC);
    expect(header.replaceAll(/\u001b\[[\d;]*m/g, '')).toBe('│ n │ greeting │ nothing │');

    await freshScreen();
    await runInPane(`NO_COLOR=1 pgfactory query 'select 1 as n'`, 'plain');
    expect(screen(true).split('\n').find((line) => line.includes('│ n │'))).toBe('│ n │');
  });

  it('rows are not ruled apart: one rule under the header only', async () => {
    await freshScreen();
    const { text, exit } = await runInPane(`pgfactory query 'select g, g * 2 as twice from generate_series(1, 4) g'`, 'compact');
    expect(exit).toBe(0);
    expect(printed(text, 'compact')).toEqual([
      '┌───┬───────┐',
      '│ g │ twice │',
      '├───┼───────┤',
      '│ 1 │     2 │',
      '│ 2 │     4 │',
      '│ 3 │     6 │',
      '│ 4 │     8 │',
      '└───┴───────┘',
      '(4 rows)',
    ]);
  });

  it('output taller than the screen goes through the pager; short, piped or --no-pager output does not', async () => {
    const tall = `pgfactory query 'select g as n from generate_series(1, 100) g'`;
    await freshScreen();
    typeLine(`${tall}; echo "paged exit=$?"`);
    // less -SRFX: the first screenful and its prompt, the command still running.
    const paging = await waitForScreen((shown) => /^:\s*$/m.test(shown) && shown.includes('│  45 │'), 'less showing the first screen');
    expect(paging).not.toMatch(/^paged exit=/m);
    expect(paging).not.toContain('(100 rows)');
    tmux('send-keys', '-t', TARGET, 'q');
    await waitForScreen((shown) => /^paged exit=0$/m.test(shown), 'the pager to quit');

    for (const [marker, command] of [
      ['short', `pgfactory query 'select g as n from generate_series(1, 5) g'`],
      ['nopager', `${tall} --no-pager`],
      ['emptyvar', `PAGER= ${tall}`],
    ]) {
      await freshScreen();
      const { text, exit } = await runInPane(command, marker);
      expect(exit).toBe(0);
      expect(text).toMatch(/^\(\d+ rows\)$/m);
      expect(text).not.toMatch(/^:\s*$/m);
    }
    await freshScreen();
    const piped = await runInPane(`${tall} | wc -l`, 'piped');
    expect(printed(piped.text, 'piped')).toEqual(['105']);
    // The pager is the user's choice: PGFACTORY_PAGER first, then PSQL_PAGER, then PAGER.
    await freshScreen();
    const chosen = await runInPane(`PAGER=false PSQL_PAGER='wc -l' ${tall}`, 'chosen');
    expect(printed(chosen.text, 'chosen')).toEqual(['105']);
    await freshScreen();
    const own = await runInPane(`PSQL_PAGER=false PGFACTORY_PAGER='grep -c n' ${tall}`, 'own');
    expect(printed(own.text, 'own')).toEqual(['1']);
  });

  it('-x auto: expanded when the table is wider than the terminal, a table when it fits', async () => {
    await freshScreen();
    const wide = await runInPane(`pgfactory query -x auto 'select 1 as id, repeat($$a$$, 120) as x, repeat($$b$$, 120) as y'`, 'wide');
    expect(wide.exit).toBe(0);
    expect(printed(wide.text, 'wide')).toEqual(['-[ RECORD 1 ]-', 'id | 1', `x  | ${'a'.repeat(120)}`, `y  | ${'b'.repeat(120)}`, '(1 row)']);
    await freshScreen();
    const narrow = await runInPane(`pgfactory query --expanded auto 'select 1 as id, repeat($$a$$, 12) as x'`, 'fits');
    expect(printed(narrow.text, 'fits')).toEqual(['┌────┬──────────────┐', '│ id │ x            │', '├────┼──────────────┤', `│  1 │ ${'a'.repeat(12)} │`, '└────┴──────────────┘', '(1 row)']);
  });

  it('on a narrow terminal long values are cut with …, never in csv; --max-width 0 keeps them whole', async () => {
    tmux('resize-window', '-t', TARGET, '-x', '40');
    try {
      await freshScreen();
      const value = `repeat($$x$$, 100)`;
      const cut = await runInPane(`pgfactory query --no-pager 'select ${value} as v'`, 'cut');
      expect(printed(cut.text, 'cut')).toEqual([`┌${'─'.repeat(38)}┐`, `│ v${' '.repeat(36)}│`, `├${'─'.repeat(38)}┤`, `│ ${'x'.repeat(35)}… │`, `└${'─'.repeat(38)}┘`, '(1 row)']);
      await freshScreen();
      const csv = await runInPane(`pgfactory query --format csv 'select ${value} as v' | tr -d '\\n' | wc -c`, 'csv');
      // "v" + 100 x: nothing cut.
      expect(printed(csv.text, 'csv')).toEqual(['101']);
      await freshScreen();
      const whole = await runInPane(`pgfactory query --no-pager --max-width 0 'select ${value} as v' | grep -c x`, 'whole');
      expect(printed(whole.text, 'whole')).toEqual(['1']);
      await freshScreen();
      const chosen = await runInPane(`pgfactory query --no-pager --max-width 8 'select ${value} as v'`, 'chosen');
      expect(printed(chosen.text, 'chosen')).toContain(`│ xxxxxxx… │`);
    } finally {
      tmux('resize-window', '-t', TARGET, '-x', '200');
    }
  });

  it('--watch runs the query again and again under a time header; Ctrl-C ends it with exit 0', async () => {
    await freshScreen();
    typeLine(`pgfactory query --watch 0.3 'select 42 as answer'; echo "watch exit=$?"`);
    const runs = (text: string) => (text.match(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(every 0\.3s\)$/gm) ?? []).length;
    const text = await waitForScreen((shown) => runs(shown) >= 3 && (shown.match(/^│     42 │$/gm) ?? []).length >= 3, 'three runs');
    expect(text).not.toMatch(/^watch exit=/m);
    tmux('send-keys', '-t', TARGET, 'C-c');
    // The terminal echoes the keypress as ^C, on the line the marker is printed on.
    const after = await waitForScreen((shown) => /^(\^C)?watch exit=\d+$/m.test(shown), 'the watch to end');
    expect(after).toMatch(/^(\^C)?watch exit=0$/m);
    expect(after).not.toContain('pgfactory:');
  });

  it('the interactive shell: multi-line statements, transaction prompts, \\d, completion, history, Ctrl-C and Ctrl-D', async () => {
    await sql(`CREATE TABLE ${SCHEMA}.shell_zebra_table (zebra_id int PRIMARY KEY, zebra_label text NOT NULL DEFAULT 'x')`);
    const db = decodeURIComponent(new URL(databaseUrl()).pathname.slice(1)) || 'postgres';
    const appName = `pgf-shell-${randomBytes(3).toString('hex')}`;
    const lastLines = (text: string, count: number) => text.trimEnd().split('\n').slice(-count).map((line) => line.trimEnd());
    await freshScreen();
    typeLine(`PGAPPNAME=${appName} pgfactory query; echo "shell exit=$?"`);
    await waitForScreen((text) => text.trimEnd().endsWith(`${db}=>`), 'the shell prompt');

    // A statement over two lines: a continuation prompt, then the result.
    typeLine('select 1 as one,');
    await waitForScreen((text) => text.trimEnd().endsWith(`${db}->`), 'the continuation prompt');
    typeLine("2 as two, '$$;' as dollar;");
    let text = await waitForScreen((shown) => shown.includes('(1 row)') && shown.trimEnd().endsWith(`${db}=>`), 'the two-line result');
    expect(lastLines(text, 9)).toEqual([
      `${db}=> select 1 as one,`,
      `${db}-> 2 as two, '$$;' as dollar;`,
      '┌─────┬─────┬────────┐',
      '│ one │ two │ dollar │',
      '├─────┼─────┼────────┤',
      '│   1 │   2 │ $$;    │',
      '└─────┴─────┴────────┘',
      '(1 row)',
      `${db}=>`,
    ]);

    // The transaction state in the prompt, as psql shows it.
    typeLine('begin;');
    await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}=*>`), 'the in-transaction prompt');
    typeLine('select 1/0;');
    text = await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}=!>`), 'the failed-transaction prompt');
    expect(text).toContain('ERROR:  22012: division by zero');
    typeLine('rollback;');
    text = await waitForScreen((shown) => /^ROLLBACK$/m.test(shown) && shown.trimEnd().endsWith(`${db}=>`), 'the idle prompt again');

    // \d NAME: columns, types, nullability, defaults and indexes.
    await freshShellScreen(db);
    typeLine(`\\d ${SCHEMA}.shell_zebra_table`);
    text = await waitForScreen((shown) => shown.includes('PRIMARY KEY') && shown.trimEnd().endsWith(`${db}=>`), '\\d output');
    expect(text).toContain(`table "${SCHEMA}.shell_zebra_table"`);
    expect(text).toMatch(/^│ zebra_id +│ integer │ not null │ +│$/m);
    expect(text).toMatch(/^│ zebra_label │ text +│ not null │ 'x'::text │$/m);
    expect(text).toMatch(/^│ shell_zebra_table_pkey PRIMARY KEY, btree \(zebra_id\) │$/m);
    typeLine('\\nosuch');
    await waitForScreen((shown) => shown.includes('invalid command \\nosuch: try \\? for help') && shown.trimEnd().endsWith(`${db}=>`), 'the unknown command error');

    // Tab completes a column name and a table name read from the catalog.
    await freshShellScreen(db);
    typeText('select zebra_lab');
    tmux('send-keys', '-t', TARGET, 'Tab');
    await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}=> select zebra_label`), 'the completed column');
    typeText(` from ${SCHEMA}.shell_zeb`);
    tmux('send-keys', '-t', TARGET, 'Tab');
    await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}=> select zebra_label from ${SCHEMA}.shell_zebra_table`), 'the completed table');
    typeLine(';');
    await waitForScreen((shown) => shown.includes('(0 rows)') && shown.trimEnd().endsWith(`${db}=>`), 'the completed query to run');

    // A line that mentions a password stays out of the history file.
    typeLine("select 'my password is hunter2' as note;");
    await waitForScreen((shown) => shown.includes('my password is hunter2 │'), 'the password line to run');

    // Ctrl-C cancels the running statement on the server; the session goes on.
    await freshShellScreen(db);
    typeLine('select pg_sleep(30);');
    const running = async () => (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", [appName])).length > 0;
    for (let waited = 0; !(await running()); waited += 50) {
      if (waited > 20_000) throw new Error(`the statement never started; the screen shows:\n${screen()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    tmux('send-keys', '-t', TARGET, 'C-c');
    await waitForScreen((shown) => shown.includes('ERROR:  57014: canceling statement due to user request') && shown.trimEnd().endsWith(`${db}=>`), 'the cancelled statement', 20_000);
    for (let waited = 0; await running(); waited += 50) {
      if (waited > 20_000) throw new Error('the cancelled statement still runs on the server');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    typeLine('select 42 as answer;');
    await waitForScreen((shown) => /^│     42 │$/m.test(shown) && shown.trimEnd().endsWith(`${db}=>`), 'a statement after the cancel');

    // Ctrl-D ends the session with exit 0.
    tmux('send-keys', '-t', TARGET, 'C-d');
    await waitForScreen((shown) => /^shell exit=\d+$/m.test(shown), 'the shell to end');
    expect(screen()).toMatch(/^shell exit=0$/m);

    const historyFile = path.join(home, '.pgfactory_history');
    expect(fs.statSync(historyFile).mode & 0o777).toBe(0o600);
    const history = fs.readFileSync(historyFile, 'utf8');
    expect(history).toContain("select 1 as one,\n2 as two, '$$;' as dollar;\n");
    expect(history).toContain(`\\d ${SCHEMA}.shell_zebra_table\n`);
    expect(history).not.toContain('hunter2');
  });

  it("the shell runs psql's meta-commands as query -f does: \\set, \\echo, \\if, \\gset, \\gexec, \\i, \\pset, \\connect; --statement-timeout is SET LOCAL", async () => {
    const db = decodeURIComponent(new URL(databaseUrl()).pathname.slice(1)) || 'postgres';
    fs.writeFileSync(path.join(home, 'included.sql'), "\\echo included :greeting\nSELECT 'from the file' AS included;\n");
    await freshScreen();
    typeLine(`pgfactory query --statement-timeout 1500 -v greeting=hello; echo "meta exit=$?"`);
    await waitForScreen((text) => text.trimEnd().endsWith(`${db}=>`), 'the shell prompt');
    const after = (text: string, typed: string) => text.split('\n').slice(text.split('\n').findIndex((line) => line.endsWith(typed)) + 1).map((line) => line.trimEnd());

    typeLine('\\echo :greeting :\'greeting\' :"greeting"');
    let text = await waitForScreen((shown) => shown.includes('hello \'hello\' "hello"'), 'the interpolated \\echo');
    typeLine('\\set answer 42');
    typeLine('\\if :answer');
    typeLine('\\echo never: 42 is not a boolean');
    text = await waitForScreen((shown) => shown.includes('Boolean expected'), 'the \\if error');
    expect(text).toContain('\\if: unrecognized value "42" for "\\if expression": Boolean expected');

    await freshShellScreen(db);
    typeLine('\\if false');
    // An \if branch not taken shows in the prompt as psql's: db@>.
    await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}@>`), 'the prompt of a branch not taken');
    typeLine("select 'skipped' as branch;");
    typeLine('\\else');
    await waitForScreen((shown) => shown.trimEnd().endsWith(`${db}=>`), 'the prompt of the branch taken');
    typeLine("select 'taken' as branch \\gset");
    typeLine('\\endif');
    typeLine('\\echo branch=:branch');
    text = await waitForScreen((shown) => /^branch=taken$/m.test(shown), 'the \\gset value');
    expect(text).not.toContain('│ skipped');

    await freshShellScreen(db);
    typeLine("select format('select %s as n', 7) \\gexec");
    text = await waitForScreen((shown) => /^│ 7 │$/m.test(shown) && shown.trimEnd().endsWith(`${db}=>`), 'the \\gexec result');
    typeLine('\\pset format csv');
    typeLine('\\i included.sql');
    text = await waitForScreen((shown) => shown.includes('from the file') && shown.trimEnd().endsWith(`${db}=>`), 'the included file');
    expect(after(text, '\\i included.sql').slice(0, 3)).toEqual(['included hello', 'included', 'from the file']);

    // The timeout is SET LOCAL around each statement (the code of query -f), \\gset's too.
    await freshShellScreen(db);
    typeLine('show statement_timeout;');
    text = await waitForScreen((shown) => /^statement_timeout$/m.test(shown) && shown.trimEnd().endsWith(`${db}=>`), 'the statement timeout inside a statement');
    expect(after(text, 'show statement_timeout;').slice(0, 2)).toEqual(['statement_timeout', '1500ms']);
    typeLine('select pg_sleep(3);');
    text = await waitForScreen((shown) => shown.includes('canceling statement due to statement timeout') && shown.trimEnd().endsWith(`${db}=>`), 'the timed-out statement');
    typeLine("select current_setting('statement_timeout') as outside \\gset");
    typeLine('begin;');
    typeLine("select current_setting('statement_timeout') as inside \\gset");
    typeLine('rollback;');
    typeLine('\\echo outside=:outside inside=:inside');
    await waitForScreen((shown) => /^outside=1500ms inside=1500ms$/m.test(shown), 'the timeout in and out of a transaction (\\gset too)');

    await freshShellScreen(db);
    typeLine(`\\connect ${db}`);
    text = await waitForScreen((shown) => shown.includes(`You are now connected to database "${db}"`) && shown.trimEnd().endsWith(`${db}=>`), 'the new connection');
    // A name that is a property of every object is still unknown.
    typeLine('\\toString');
    await waitForScreen((shown) => shown.includes('invalid command \\toString: try \\? for help'), 'the unknown command error');
    typeLine('\\q');
    await waitForScreen((shown) => /^meta exit=\d+$/m.test(shown), 'the shell to end');
    expect(screen()).toMatch(/^meta exit=0$/m);
  });

  it('COPY and \\copy from stdin typed at the prompt take the lines typed at >> up to \\. or Ctrl-D; Ctrl-C there cancels the COPY', async () => {
    const db = decodeURIComponent(new URL(databaseUrl()).pathname.slice(1)) || 'postgres';
    await sql(`CREATE TABLE ${SCHEMA}.typed (n int, word text)`);
    await freshScreen();
    typeLine(`pgfactory query; echo "copy exit=$?"`);
    await waitForScreen((text) => text.trimEnd().endsWith(`${db}=>`), 'the shell prompt');
    const dataPrompt = (what: string) => waitForScreen((text) => text.includes('End with a backslash and a period on a line by itself.') && text.trimEnd().endsWith('>>'), what);

    typeLine(`\\copy ${SCHEMA}.typed from stdin csv`);
    await dataPrompt('the data prompt of \\copy');
    typeLine('1,one');
    typeLine('2,"two, quoted"');
    typeLine('\\.');
    await waitForScreen((text) => /^COPY 2$/m.test(text) && text.trimEnd().endsWith(`${db}=>`), 'the \\copy tag');

    await freshShellScreen(db);
    typeLine(`COPY ${SCHEMA}.typed FROM STDIN (FORMAT csv);`);
    await dataPrompt('the data prompt of COPY');
    typeLine('3,three');
    typeLine('\\.');
    await waitForScreen((text) => /^COPY 1$/m.test(text) && text.trimEnd().endsWith(`${db}=>`), 'the COPY tag');

    // A \copy with one data line typed at >>, ended by `key` instead of \.
    const typedThenKey = async (line: string, key: 'C-c' | 'C-d') => {
      await freshShellScreen(db);
      typeLine(`\\copy ${SCHEMA}.typed from stdin csv`);
      await dataPrompt(`the data prompt before ${key}`);
      typeLine(line);
      await waitForScreen((text) => text.trimEnd().endsWith('>>') && text.includes(line), 'the typed data line');
      tmux('send-keys', '-t', TARGET, key);
    };
    await typedThenKey('4,four', 'C-c');
    await waitForScreen((text) => text.includes('pgfactory: COPY cancelled; nothing was sent') && text.trimEnd().endsWith(`${db}=>`), 'the cancelled COPY');

    // Ctrl-D at >> ends the data as \. does; the shell goes on, as psql's does.
    await typedThenKey('5,five', 'C-d');
    await waitForScreen((text) => /^COPY 1$/m.test(text) && text.trimEnd().endsWith(`${db}=>`), 'the COPY tag after Ctrl-D');
    typeLine(`SELECT count(*) AS typed_rows FROM ${SCHEMA}.typed;`);
    await waitForScreen((text) => /typed_rows/.test(text) && /│\s+4\s+│/.test(text) && text.trimEnd().endsWith(`${db}=>`), 'a query after Ctrl-D at >>');
    typeLine('\\q');
    await waitForScreen((shown) => /^copy exit=\d+$/m.test(shown), 'the shell to end');
    expect(screen()).toMatch(/^copy exit=0$/m);
    expect(await sql(`SELECT n, word FROM ${SCHEMA}.typed ORDER BY n`)).toEqual([{ n: 1, word: 'one' }, { n: 2, word: 'two, quoted' }, { n: 3, word: 'three' }, { n: 5, word: 'five' }]);
  });

  it('SIGTERM at the >> prompt sends nothing typed there and ends the shell with exit 130', async () => {
    const db = decodeURIComponent(new URL(databaseUrl()).pathname.slice(1)) || 'postgres';
    await sql(`CREATE TABLE ${SCHEMA}.termed (n int)`);
    // The shell's own command line names it, so the signal goes to this process only.
    const marker = `sigterm_${randomBytes(4).toString('hex')}`;
    const url = new URL(databaseUrl());
    url.searchParams.set('application_name', marker);
    await freshScreen();
    typeLine(`pgfactory query -d '${url.href}'; echo "term exit=$?"`);
    await waitForScreen((text) => text.trimEnd().endsWith(`${db}=>`), 'the shell prompt');
    typeLine(`\\copy ${SCHEMA}.termed from stdin`);
    await waitForScreen((text) => text.trimEnd().endsWith('>>'), 'the data prompt');
    typeLine('7');
    await waitForScreen((text) => text.trimEnd().endsWith('>>') && /^>> 7$/m.test(text), 'the typed data line');
    const commandLine = (pid: string) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return ''; // a process that has just ended
      }
    };
    const shells = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid) && commandLine(pid).includes(marker));
    expect(shells).toHaveLength(1);
    process.kill(Number(shells[0]), 'SIGTERM');
    const text = await waitForScreen((shown) => /^term exit=\d+$/m.test(shown), 'the shell to end');
    expect(text).toContain('pgfactory: COPY cancelled; nothing was sent');
    expect(text).toContain('interrupted: the shell was terminated (SIGTERM)');
    expect(text).toMatch(/^term exit=130$/m);
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.termed`)).toEqual([{ n: 0 }]);
  });

  it('an error label is red on the terminal, plain with NO_COLOR', async () => {
    await freshScreen();
    const { text, exit } = await runInPane(`pgfactory query 'select * from no_such_table'`, 'error');
    expect(exit).toBe(3);
    expect(printed(text, 'error')[0]).toBe('pgfactory: ERROR:  42P01: relation "no_such_table" does not exist');
    const label = screen(true).split('\n').find((line) => line.includes('no_such_table" does not exist'))!;
    expect(label.startsWith(ESC)).toBe(true);

    await freshScreen();
    await runInPane(`NO_COLOR=1 pgfactory query 'select * from no_such_table'`, 'plainerror');
    expect(screen(true)).not.toContain(ESC);
  });

  it('the bench report header is coloured on the terminal', async () => {
    await freshScreen();
    const { exit } = await runInPane('pgfactory bench -t 3 --mode both', 'bench');
    expect(exit).toBe(0);
    // The report with its two histograms can be taller than the pane: its header is then in the scrollback.
    const header = screen(true, true).split('\n').find((line) => line.includes('fresh') && line.includes('pooled') && line.startsWith('│'))!;
    expect(header).toContain(ESC);
    expect(header.replaceAll(/\u001b\[[\d;]*m/g, '')).toMatch(/^│ +│ +fresh │ +pooled │$/);
  });

  it('-W prompts for the password without echoing it, and the query runs with it', async () => {
    const url = new URL(databaseUrl());
    const password = decodeURIComponent(url.password);
    expect(password).not.toBe('');
    url.password = '';
    await freshScreen();
    // No DATABASE_URL, no PGPASSWORD, no ~/.pgpass: the typed password is the only one there is.
    typeLine(`env -u DATABASE_URL pgfactory query -W -d '${url.toString()}' 'select $$signed in$$ as result'; echo "prompt exit=$?"`);
    await waitForScreen((text) => /^Password: $/m.test(text), 'the password prompt');
    typeText(password);
    tmux('send-keys', '-t', TARGET, 'Enter');
    const text = await waitForScreen((shown) => /^prompt exit=\d+$/m.test(shown), 'the query after the prompt');
    expect(text).not.toContain(password);
    expect(printed(text, 'prompt')).toEqual([
      'Password:',
      '┌───────────┐',
      '│ result    │',
      '├───────────┤',
      '│ signed in │',
      '└───────────┘',
      '(1 row)',
    ]);
    expect(text).toMatch(/^prompt exit=0$/m);
  });

  it('Ctrl-C cancels a long query: a message, exit 130, and the prompt is back at once', async () => {
    const appName = `pgf-terminal-${randomBytes(3).toString('hex')}`;
    await freshScreen();
    typeLine(`PGAPPNAME=${appName} pgfactory query 'select pg_sleep(600)'; echo "ctrlc exit=$?"`);
    const running = async () => (await sql('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = $2', [appName, 'active'])).length > 0;
    const deadline = performance.now() + 20_000;
    while (!(await running())) {
      if (performance.now() > deadline) throw new Error(`the query never started; the screen shows:\n${screen()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    tmux('send-keys', '-t', TARGET, 'C-c');
    // pg_sleep(600) would hold the prompt for 10 minutes: only the cancel ends it within the wait.
    const text = await waitForScreen((shown) => /^ctrlc exit=\d+$/m.test(shown), 'the cancelled query to end', 30_000);
    // The terminal echoes the keypress as ^C.
    expect(printed(text, 'ctrlc').map((line) => line.replace(/^\^C/, '')).filter((line) => line !== '')).toEqual(['pgfactory: interrupted: the running statement was cancelled']);
    expect(text).toMatch(/^ctrlc exit=130$/m);
    await waitForScreen((shown) => shown.trimEnd().endsWith('pgf$'), 'the prompt');
    expect(await running()).toBe(false);
  });

  it('insert shows a live progress bar on the terminal, then only the summary', async () => {
    await freshScreen();
    // The input pauses half-way, so the bar can be read while the load is in progress.
    typeLine(`{ seq 1 300000; sleep 3; seq 300001 400000; } | pgfactory insert ${SCHEMA}.big -f - --format csv --no-header; echo "insert exit=$?"`);
    const during = await waitForScreen((text) => /^[1-9]\d* rows \| \d+ rows\/s \| [\d.]+ MiB read\s*$/m.test(text), 'the progress bar', 30_000);
    const bar = during.split('\n').find((line) => / rows\/s \| /.test(line))!;
    const rowsSoFar = Number(/^(\d+) rows/.exec(bar)![1]);
    expect(rowsSoFar).toBeGreaterThan(0);
    expect(rowsSoFar).toBeLessThanOrEqual(300000);

    const text = await waitForScreen((shown) => /^insert exit=\d+$/m.test(shown), 'the insert to finish', 60_000);
    const lines = printed(text, 'insert');
    // clearOnComplete: the bar is gone, the summary stays.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^inserted 400000 rows into terminal\.big in [\d.]+ s \(\d+ rows\/s\)$/);
    expect(text).toMatch(/^insert exit=0$/m);
    expect(await sql(`SELECT count(*)::int AS n, min(n) AS lo, max(n) AS hi FROM ${SCHEMA}.big`)).toEqual([{ n: 400000, lo: 1, hi: 400000 }]);
  });
});
