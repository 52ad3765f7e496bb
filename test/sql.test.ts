import { describe, expect, it } from 'vitest';
import { isPlainQuery, quoteIdent, splitStatements } from '../src/sql.js';

describe('splitStatements', () => {
  it('splits at top-level semicolons and records start lines', () => {
    expect(splitStatements('select 1;\n\nselect 2;  -- done\n')).toEqual([
      { text: 'select 1', line: 1, offset: 0 },
      { text: 'select 2', line: 3, offset: 11 },
    ]);
  });

  it('ignores semicolons in strings, identifiers, dollar quotes and comments', () => {
    const sql = `select 'a;b', E'c\\';d', "e;f" from t; -- x;y
/* a; /* nested; */ b; */ select $$;$$, $tag$ ; $tag$;
create function f() returns int begin atomic select 1; select 2; end; select 3`;
    expect(splitStatements(sql).map((s) => s.text)).toEqual([
      `select 'a;b', E'c\\';d', "e;f" from t`,
      // a comment before a statement travels with it, as in psql
      `-- x;y\n/* a; /* nested; */ b; */ select $$;$$, $tag$ ; $tag$`,
      'create function f() returns int begin atomic select 1; select 2; end',
      'select 3',
    ]);
  });

  it('follows psql: semicolons inside parentheses and CASE … END in a routine body do not end a statement', () => {
    const sql = `create rule r as on insert to t do also (insert into u values (1); insert into v values (2));
create or replace function g(x int) returns int begin atomic select case when x > 0 then 1 else 2 end; select 3; end;
select 4`;
    expect(splitStatements(sql).map((s) => s.text)).toEqual([
      'create rule r as on insert to t do also (insert into u values (1); insert into v values (2))',
      'create or replace function g(x int) returns int begin atomic select case when x > 0 then 1 else 2 end; select 3; end',
      'select 4',
    ]);
  });

  it('drops statements that hold only comments and blanks', () => {
    expect(splitStatements('  ;; -- nothing\n/* at all */ ;')).toEqual([]);
  });
});

describe('isPlainQuery', () => {
  it.each([
    ['SELECT 1', true],
    ['  values (1)', true],
    ['TABLE t', true],
    ['WITH x AS (SELECT 1) SELECT * FROM x', true],
    ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', false],
    ['SELECT * INTO new_t FROM t', false],
    ["SELECT 'insert into' AS s", true],
    ['INSERT INTO t VALUES (1) RETURNING *', false],
    ['SHOW search_path', false],
    // one lexer: nested comments and E'' strings read the same as in splitStatements
    ["/* a /* nested */ insert */ SELECT 1", true],
    ["/* a /* nested */ */ INSERT INTO t SELECT 1", false],
    ["SELECT E'\\' INTO' AS s", true],
    ["WITH x AS (SELECT E'it\\'s (' AS s) SELECT * FROM x", true],
  ])('%s -> %s', (sql, expected) => {
    expect(isPlainQuery(sql)).toBe(expected);
  });
});

describe('quoteIdent', () => {
  it('always quotes and doubles embedded quotes', () => {
    expect(quoteIdent('Odd "name"')).toBe('"Odd ""name"""');
    expect(quoteIdent('select')).toBe('"select"');
  });
});
