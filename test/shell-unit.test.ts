// The shell's pure parts: where typed statements end, the history file, completion, backslash
// parsing, the pager choice and the watch loop.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBackslash } from '../src/shell/commands.js';
import { changesCatalog, completeWord, wordAtEnd } from '../src/shell/completion.js';
import { HistoryFile } from '../src/shell/history.js';
import { pagerCommand } from '../src/shell/pager.js';
import { firstMetaCommand, takeCompleteStatements } from '../src/shell/shell.js';
import { formatWatchTime, watch } from '../src/shell/watch.js';
import { scratchDir } from './helpers.js';

describe('firstMetaCommand', () => {
  it('finds the first backslash command outside quotes, dollar quotes and comments', () => {
    expect(firstMetaCommand('\\set a 1')).toEqual({ name: 'set', at: 0 });
    expect(firstMetaCommand("select 'a\\b' as x \\gset p_")).toEqual({ name: 'gset', at: 18 });
    expect(firstMetaCommand('select $$\\x$$ -- \\d\n')).toBeUndefined();
    expect(firstMetaCommand("select 'open \\x")).toBeUndefined();
    expect(firstMetaCommand('select 1;')).toBeUndefined();
  });
});

describe('takeCompleteStatements', () => {
  it('ends statements at top-level semicolons only, keeping what follows', () => {
    expect(takeCompleteStatements('select 1')).toEqual({ complete: undefined, rest: 'select 1' });
    expect(takeCompleteStatements('select 1;')).toEqual({ complete: 'select 1;', rest: '' });
    expect(takeCompleteStatements('select 1,\n2;  select 3')).toEqual({ complete: 'select 1,\n2;', rest: '  select 3' });
    expect(takeCompleteStatements("select ';'")).toEqual({ complete: undefined, rest: "select ';'" });
    expect(takeCompleteStatements('do $$ begin; end $$')).toEqual({ complete: undefined, rest: 'do $$ begin; end $$' });
    expect(takeCompleteStatements('do $$ begin; end $$;')).toEqual({ complete: 'do $$ begin; end $$;', rest: '' });
    expect(takeCompleteStatements('select 1 -- no end;')).toEqual({ complete: undefined, rest: 'select 1 -- no end;' });
    expect(takeCompleteStatements('select 1; -- done')).toEqual({ complete: 'select 1;', rest: ' -- done' });
  });
});

describe('HistoryFile', () => {
  it('creates the file with mode 0600, keeps statements, leaves out those that mention a password', () => {
    const file = path.join(scratchDir(), 'history');
    const history = new HistoryFile(file);
    expect(history.load()).toEqual([]);
    history.append(['select 1,', '2;']);
    history.append(["alter role app", "PASSWORD 'secret';"]);
    history.append(['\\d t']);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).toBe('select 1,\n2;\n\\d t\n');
    expect(history.load()).toEqual(['\\d t', '2;', 'select 1,']);
    fs.chmodSync(file, 0o644);
    history.append(['select 2;']);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });
});

describe('completion', () => {
  const names = { schemas: ['public', 'sales'], visible: ['orders', 'customers'], qualified: ['public.orders', 'sales.orders_2024'], columns: ['order_id', 'customer_id'], functions: ['now', 'octet_length'] };
  it('offers keywords in the typed case and names from the catalog', () => {
    expect(wordAtEnd('select * from ord')).toBe('ord');
    expect(wordAtEnd('select sales.or')).toBe('sales.or');
    expect(completeWord('ord', names, [])).toEqual(['order by', 'order_id', 'orders']);
    expect(completeWord('ORD', names, [])).toEqual(['ORDER BY', 'order_id', 'orders']);
    expect(completeWord('sales.or', names, [])).toEqual(['sales.orders_2024']);
    expect(completeWord('cust', undefined, [])).toEqual([]);
    expect(completeWord('\\d', names, ['\\d', '\\dt', '\\q'])).toEqual(['\\d', '\\dt']);
  });
  it('reads the catalog again after DDL', () => {
    expect(changesCatalog('CREATE TABLE t (a int)')).toBe(true);
    expect(changesCatalog('  drop table t')).toBe(true);
    expect(changesCatalog('select 1')).toBe(false);
  });
});

describe('parseBackslash', () => {
  it('splits the name and the arguments, quotes grouping words', () => {
    expect(parseBackslash('\\x auto')).toEqual({ name: 'x', args: ['auto'] });
    expect(parseBackslash('  \\i "my file.sql" ')).toEqual({ name: 'i', args: ['my file.sql'] });
    expect(parseBackslash('\\')).toEqual({ name: '', args: [] });
  });
});

describe('pagerCommand', () => {
  it('takes PGFACTORY_PAGER, then PSQL_PAGER, then PAGER, else less; an empty one turns paging off', () => {
    expect(pagerCommand({})).toBe('less -SRFX');
    expect(pagerCommand({ PAGER: 'more' })).toBe('more');
    expect(pagerCommand({ PAGER: 'more', PSQL_PAGER: 'pspg' })).toBe('pspg');
    expect(pagerCommand({ PAGER: 'more', PSQL_PAGER: 'pspg', PGFACTORY_PAGER: 'bat' })).toBe('bat');
    expect(pagerCommand({ PAGER: 'more', PGFACTORY_PAGER: '' })).toBeUndefined();
    expect(pagerCommand({ PAGER: ' ' })).toBeUndefined();
  });
});

describe('watch', () => {
  it('runs until aborted, a header before each run; a failing run ends it with its error', async () => {
    const stop = new AbortController();
    const headers: string[] = [];
    const runs = await watch({
      intervalSeconds: 0.01,
      signal: stop.signal,
      now: () => new Date(2026, 11, 1, 9, 5, 3),
      writeHeader: (text) => void headers.push(text),
      runOnce: async (run) => {
        if (run === 3) stop.abort();
      },
    });
    expect(runs).toBe(3);
    expect(headers).toEqual(Array(3).fill('2026-12-01 09:05:03 (every 0.01s)\n\n'));
    await expect(watch({ intervalSeconds: 0.01, signal: new AbortController().signal, writeHeader: () => undefined, runOnce: async () => Promise.reject(new Error('boom')) })).rejects.toThrow('boom');
    expect(formatWatchTime(new Date(2026, 0, 2, 3, 4, 5))).toBe('2026-01-02 03:04:05');
  });
});
