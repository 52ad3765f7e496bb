import { describe, expect, it } from 'vitest';
import { arrayToJson, csvLine, isoTimestamp, jsonObject, tsvLine } from '../src/output/values.js';

describe('csv like COPY', () => {
  it('quotes only when needed, and always the empty string', () => {
    expect(csvLine(['a', null, '', 'x,y', 'say "hi"', 'two\nlines', '\\.'])).toBe('a,,"","x,y","say ""hi""","two\nlines","\\."\n');
  });
  it('quotes a value equal to the NULL string', () => {
    expect(csvLine(['NULL', null], 'NULL')).toBe('"NULL",NULL\n');
  });
});

describe('tsv like COPY text', () => {
  it('escapes backslashes and control characters, \\N for NULL', () => {
    expect(tsvLine(['a\tb', null, 'c\\d', 'e\nf\rg', ''])).toBe('a\\tb\t\\N\tc\\\\d\te\\nf\\rg\t\n');
  });
});

describe('json values', () => {
  it('writes timestamps as to_json does', () => {
    expect(isoTimestamp('2024-01-01 21:34:05.5+00')).toBe('2024-01-01T21:34:05.5+00:00');
    expect(isoTimestamp('1850-01-01 00:00:00+05:53:28')).toBe('1850-01-01T00:00:00+05:53:28');
    expect(isoTimestamp('2024-01-02 03:04:05+05:30')).toBe('2024-01-02T03:04:05+05:30');
    expect(isoTimestamp('0044-03-15 10:00:00+00 BC')).toBe('0044-03-15T10:00:00+00:00 BC');
    expect(isoTimestamp('2024-01-02 03:04:05')).toBe('2024-01-02T03:04:05');
    expect(isoTimestamp('infinity')).toBe('infinity');
    expect(isoTimestamp('Tue Jan 02 03:04:05 2024 UTC')).toBe('Tue Jan 02 03:04:05 2024 UTC');
  });

  it('keeps numbers exact and maps types', () => {
    const columns = [
      { name: 'i', typeOid: 20 }, { name: 'n', typeOid: 1700 }, { name: 'nan', typeOid: 701 },
      { name: 'b', typeOid: 16 }, { name: 'j', typeOid: 3802 }, { name: 't', typeOid: 25 }, { name: 'z', typeOid: 25 },
    ];
    expect(jsonObject(columns, ['12345678901234567890', '0.100000000000000000001', 'NaN', 'f', '{"a": [1]}', 'line\n"q"', null]))
      .toBe('{"i":12345678901234567890,"n":0.100000000000000000001,"nan":"NaN","b":false,"j":{"a": [1]},"t":"line\\n\\"q\\"","z":null}');
  });
  it('parses array literals, nested, quoted and NULL', () => {
    expect(arrayToJson('{{1,2},{3,NULL}}', 23)).toBe('[[1,2],[3,null]]');
    expect(arrayToJson('{a,"b c","d\\"e",NULL,"NULL"}', 25)).toBe('["a","b c","d\\"e",null,"NULL"]');
    expect(arrayToJson('[0:1]={t,f}', 16)).toBe('[true,false]');
  });
});
