import { describe, expect, it } from 'vitest';
import { arrayLiteral, copyTextValue, FlatRowBytesEncoder, FlatRowEncoder, parseJsonObject, RowBytes } from '../src/insert/json.js';
import { Batch } from '../src/insert/batch.js';
import { DelimitedReader } from '../src/insert/delimited.js';
import { JsonReader } from '../src/insert/jsoninput.js';
import { positionAfter, sliceChunk, type RecordChunk } from '../src/insert/chunks.js';
import { copyErrorPosition } from '../src/insert/load.js';
import { parseQualifiedName } from '../src/insert/target.js';
import { committedFromStart } from '../src/insert/resume.js';
import { batchRecords } from '../src/insert/parallel.js';

describe('parseQualifiedName', () => {
  it('folds unquoted parts and keeps quoted ones', () => {
    expect(parseQualifiedName('Users')).toEqual({ schema: undefined, name: 'users' });
    expect(parseQualifiedName('App.Users')).toEqual({ schema: 'app', name: 'users' });
    expect(parseQualifiedName('"My Schema"."Odd ""name"""')).toEqual({ schema: 'My Schema', name: 'Odd "name"' });
    expect(parseQualifiedName('"a.b".c')).toEqual({ schema: 'a.b', name: 'c' });
    expect(parseQualifiedName('Ünïcode')).toEqual({ schema: undefined, name: 'Ünïcode' });
  });
  it('rejects what SQL rejects', () => {
    expect(() => parseQualifiedName('a.b.c')).toThrow('use table or schema.table');
    expect(() => parseQualifiedName('"unterminated')).toThrow('unterminated quoted identifier');
    expect(() => parseQualifiedName('a b')).toThrow('unexpected character " "');
    expect(() => parseQualifiedName('a.')).toThrow('a name part is missing');
    expect(() => parseQualifiedName('""')).toThrow('zero-length');
  });
});

describe('JSON scanning', () => {
  it('keeps raw numbers and nested values exactly', () => {
    const fields = parseJsonObject('{"a": 9007199254740993, "b": 1.10, "c": {"x": [1, 2.50]}, "d": "t\\"ab\\tx", "e": null}');
    expect(fields.map((f) => [f.key, f.kind, f.text])).toEqual([
      ['a', 'number', '9007199254740993'],
      ['b', 'number', '1.10'],
      ['c', 'object', '{"x": [1, 2.50]}'],
      ['d', 'string', '"t\\"ab\\tx"'],
      ['e', 'null', 'null'],
    ]);
    const plain = { isJson: false, isArray: false };
    expect(copyTextValue(fields[3], plain)).toBe('t"ab\\tx');
    expect(copyTextValue(fields[4], plain)).toBe('\\N');
    expect(copyTextValue(fields[2], { isJson: true, isArray: false })).toBe('{"x": [1, 2.50]}');
  });
  it('names the problem and its column', () => {
    expect(() => parseJsonObject('{"a": 1,}')).toThrow('expected a string key, found "}" at column 9');
    expect(() => parseJsonObject('[1]')).toThrow('expected a JSON object');
    expect(() => parseJsonObject('{"a": tru}')).toThrow('expected a JSON value');
    expect(() => parseJsonObject('{"a": 1} x')).toThrow('unexpected "x" after the object at column 10');
  });
  it('turns JSON arrays into PostgreSQL array literals', () => {
    expect(arrayLiteral('[1, "a b", null, ["x\\"y"], {"k": 1}]')).toBe('{1,"a b",NULL,{"x\\"y"},"{\\"k\\": 1}"}');
    expect(arrayLiteral('[]')).toBe('{}');
  });
});

describe('copyErrorPosition', () => {
  it('reads the COPY line and column from CONTEXT', () => {
    const error = { where: 'COPY t, line 3, column age: "abc"' } as never;
    expect(copyErrorPosition(error)).toEqual({ record: 3, column: 'age' });
    expect(copyErrorPosition({ where: 'COPY t, line 12' } as never)).toEqual({ record: 12, column: undefined });
    expect(copyErrorPosition({ where: undefined } as never)).toEqual({ record: undefined, column: undefined });
  });
});

describe('Batch.recordAtCopyLine', () => {
  // Three records on input lines 2, 3-4 (a quoted line break) and 5; then 6 in a second chunk.
  const chunk = (lines: number[], spans: number[] | undefined): RecordChunk => ({ data: Buffer.alloc(0), offsets: [], lines, raw: undefined, bytesRead: 0, spans });
  const batch = new Batch([], 0, false);
  batch.add(chunk([2, 3, 5], [1, 2, 1]));
  batch.add(chunk([6], undefined));
  it('counts the line breaks of every record but the first of the COPY, as COPY does', () => {
    expect([1, 2, 3, 4, 5].map((line) => batch.recordAtCopyLine(0, line))).toEqual([0, 1, 1, 2, 3]);
    expect(batch.recordAtCopyLine(0, 6)).toBe(undefined);
    // A COPY that starts at record 1: its first record's break is not counted.
    expect([1, 2, 3].map((line) => batch.recordAtCopyLine(1, line))).toEqual([1, 2, 3]);
    expect(batch.lineOf(2)).toBe(5);
  });
});

describe('DelimitedReader chunk boundaries', () => {
  // Every record as the reader hands it on (bytes, input line) and every malformed one.
  async function read(input: string, format: 'csv' | 'tsv', chunkBytes: number, select?: number[]) {
    const bytes = Buffer.from(input);
    async function* source() {
      for (let at = 0; at < bytes.length; at += chunkBytes) yield bytes.subarray(at, at + chunkBytes);
    }
    const malformed: string[] = [];
    const reader = new DelimitedReader(source(), { file: 'x', format, hasHeader: true, keepRaw: false, onMalformed: (m) => void malformed.push(`${m.line}: ${m.reason}`) });
    const names = await reader.names();
    reader.setPlan({ fieldCount: names!.length, select });
    const records: string[] = [];
    for await (const chunk of reader.records()) {
      for (let i = 0; i < chunk.lines.length; i += 1) records.push(`${chunk.lines[i]}: ${chunk.data.toString('utf8', chunk.offsets[i], chunk.offsets[i + 1])}`);
    }
    return { names, records, malformed };
  }

  const csv = 'a,b,c\n1,x,y\r\n2,"multi\nline, ""quoted""",z\n3,,\n\n4,a"b,c\n5,"unterminated,q\n6,p,q\n7,"",\r\n8,only two\n9,"x\r\ny",z';
  const tsv = 'a\tb\tc\n1\tx\\ty\tz\n2\tcont\\\nnued\tz\r\n3\t\t\n4\tonly\n5\t\\N\tz';

  it('cuts the same records, lines and errors whatever the read size', async () => {
    for (const [input, format] of [[csv, 'csv'], [tsv, 'tsv']] as const) {
      const whole = await read(input, format, input.length);
      for (const size of [1, 2, 3, 5, 7, 13]) expect(await read(input, format, size)).toEqual(whole);
      for (const size of [1, 4, 9]) expect(await read(input, format, size, [2, 0])).toEqual(await read(input, format, input.length, [2, 0]));
    }
  });

  it('knows where a chunk of records passed through unchanged starts in the input, and what follows it', async () => {
    const input = '\ufeffa,b,c\n1,x,y\r\n2,"multi\nline",z\n3,,\n\n4,p,q\n5,q"q,r\n6,s,t\n7,u,v';
    const bytes = Buffer.from(input);
    for (const size of [1, 3, 8, bytes.length]) {
      async function* source() {
        for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
      }
      const reader = new DelimitedReader(source(), { file: 'x', format: 'csv', hasHeader: true, keepRaw: false, onMalformed: () => undefined });
      reader.setPlan({ fieldCount: (await reader.names())!.length, select: undefined });
      const known: string[] = [];
      let records = 0;
      for await (const chunk of reader.records()) {
        records += chunk.lines.length;
        if (chunk.inputStart === undefined) continue;
        // The chunk's data is the input's bytes from inputStart, and the next record starts where it says.
        expect(bytes.subarray(chunk.inputStart, chunk.inputStart + chunk.data.length)).toEqual(chunk.data);
        const next = positionAfter(chunk)!;
        expect(bytes.subarray(0, next.byte).toString().split('\n').length).toBe(next.line);
        known.push(`${chunk.lines[0]}-${next.line}`);
      }
      expect(records).toBe(6);
      // Read whole: the first chunk holds the skipped blank and malformed lines (no inputStart); the
      // last record, waiting for the end of input, comes alone. Smaller reads give smaller chunks.
      if (size === bytes.length) expect(known).toEqual(['10-10']);
      else expect(known.length).toBeGreaterThan(1);
    }
  });

  it('finds records, lines and errors exactly', async () => {
    const clean = 'a,b,c\n1,x,y\r\n2,"multi\nline, ""quoted""",z\n3,,\n\n4,a"b,c\n6,p,q\n7,"",\r\n8,only two\n9,"x\r\ny",z';
    expect(await read(clean, 'csv', 4)).toEqual({
      names: ['a', 'b', 'c'],
      records: ['2: 1,x,y\r\n', '3: 2,"multi\nline, ""quoted""",z\n', '5: 3,,\n', '8: 6,p,q\n', '9: 7,"",\r\n', '11: 9,"x\r\ny",z'],
      malformed: ['7: quote inside an unquoted field (field 2); quote the whole field and double the quote', '10: expected 3 fields, found 2'],
    });
    expect(await read(tsv, 'tsv', 4)).toEqual({
      names: ['a', 'b', 'c'],
      records: ['2: 1\tx\\ty\tz\n', '3: 2\tcont\\\nnued\tz\r\n', '5: 3\t\t\n', '7: 5\t\\N\tz'],
      malformed: ['6: expected 3 fields, found 2'],
    });
  });
});

describe('FlatRowEncoder', () => {
  const columns = [
    { name: 'a', isJson: false, isArray: false },
    { name: 'b', isJson: true, isArray: false },
    { name: 'c', isJson: false, isArray: true },
  ];
  const columnOf = (key: string) => {
    const i = columns.findIndex((column) => column.name === key);
    return i < 0 ? undefined : i;
  };
  // The exact path the encoder stands in for.
  const general = (text: string) => {
    const values = columns.map(() => '\\N');
    for (const field of parseJsonObject(text)) values[columnOf(field.key)!] = copyTextValue(field, columns[columnOf(field.key)!]);
    return `${values.join('\t')}\n`;
  };

  it('encodes flat objects exactly as the general path does', () => {
    const encoder = new FlatRowEncoder(columns, columnOf);
    const lines = [
      '{"a":1,"b":"x","c":"{1,2}"}',
      '{"a":1,"b":"x","c":"{1,2}"}',
      '{"c":-0.5e+10,"a":"tab\\there","b":"q\\"uote"}',
      ' { "a" : true , "b" : false , "c" : null } ',
      '{"b":"\\u00e9\\\\","a":"back\\\\slash\\n"}',
      '{}',
      '{"a":12345678901234567890.10,"a":"last wins"}',
      '{"a":"é ü 😀","b":123}',
    ];
    expect(lines.map((line) => encoder.encode(line))).toEqual(lines.map(general));
    expect(encoder.encode('{"a":1,"b":"x","c":"{1,2}"}')).toBe('1\t"x"\t{1,2}\n');
    expect(encoder.encode('{"c":-0.5e+10,"a":"tab\\there","b":"q\\"uote"}')).toBe('tab\\there\t"q\\\\"uote"\t-0.5e+10\n');
  });

  it('on bytes: the same rows from the read buffer, for every line it takes', () => {
    const text = new FlatRowEncoder(columns, columnOf);
    const bytes = new FlatRowBytesEncoder(columns, columnOf);
    const lines = [
      '{"a":1,"b":"x","c":"{1,2}"}',
      '{"a":1,"b":"x","c":"{1,2}"}',
      ' { "a" : true , "b" : false , "c" : null } ',
      '{}',
      '{"a":12345678901234567890.10,"a":"last wins"}',
      '{"a":"é ü 😀","b":"ß","c":-0}',
      '{"c":1e-7,"b":12,"a":"x"}',
      '{"a":null,"a":"set again"}',
      '{"c":-0.5e+10,"a":"tab\\there","b":"q\\"uote"}',
      '{"b":"x\\\\y\\/z\\b\\f\\n\\r","a":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t","c":"é\\""}',
    ];
    // One buffer holding every line (as a read chunk does), each encoded from its span.
    const input = Buffer.from(`${lines.join('\n')}\n`);
    const out = new RowBytes(4);
    let start = 0;
    const expected: string[] = [];
    for (const line of lines) {
      const end = input.indexOf(0x0a, start);
      expect(bytes.encode(input, start, end, out), line).toBe(true);
      expected.push(text.encode(line)!);
      start = end + 1;
    }
    expect(out.take().toString()).toBe(expected.join(''));
    // Declined: \u escapes (the string path decodes them), keys with escapes or bytes over 0x7f,
    // invalid UTF-8, and everything FlatRowEncoder declines.
    const declined = ['{"a":"\\u00e9"}', '{"a\\"":1}', '{"é":1}', '{"a":"bad \\x escape"}', '{"a":[1,2]}', '{"b":{"x":1}}', '{"zz":1}', '{"a":01}', '{"a":1.}', '{"a":tru}', '{"a":1} x', '{"a":"x', '[1]', '{"a":"\u0001"}', '{"a":1', '{"a":1,}'];
    for (const line of declined) {
      const buf = Buffer.from(`${line}\n{"a":2}`);
      expect(bytes.encode(buf, 0, Buffer.byteLength(line), out), line).toBe(false);
    }
    const invalid = Buffer.from([...Buffer.from('{"a":"'), 0xc3, 0x28, ...Buffer.from('"}')]);
    expect(bytes.encode(invalid, 0, invalid.length, out)).toBe(false);
    expect(out.length).toBe(0);
  });

  it('leaves anything else to the general path', () => {
    const encoder = new FlatRowEncoder(columns, columnOf);
    for (const line of ['{"a":[1,2]}', '{"b":{"x":1}}', '{"zz":1}', '{"a":01}', '{"a":1.}', '{"a":tru}', '{"a":1} x', '{"a":"x', '[1]', '{"a\\u0062":1}', '{"a":"\u0001"}']) {
      expect(encoder.encode(line), line).toBeUndefined();
    }
  });
});

describe('pendingLine', () => {
  it('names the next record to be read once everything read is handed out (delimited and NDJSON)', async () => {
    const csv = Buffer.from('a,b\n1,x\n2,y\n3,z\n4,w\n');
    async function* pieces(bytes: Buffer, size: number) {
      for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
    }
    const reader = new DelimitedReader(pieces(csv, 8), { file: 'x', format: 'csv', hasHeader: true, keepRaw: false, onMalformed: () => undefined });
    reader.setPlan({ fieldCount: (await reader.names())!.length, select: undefined });
    const seen: string[] = [];
    for await (const chunk of reader.records()) seen.push(`${[...chunk.lines].join(',')} then ${reader.pendingLine()}`);
    // Lines: the header is 1, records 2–5; the last chunk goes out before the end of the input is known.
    expect(seen).toEqual(['2 then 3', '3,4 then 5', '5 then 6']);

    const ndjson = Buffer.from('{"a":1}\n{"a":2}\n\n{"a":3}\n');
    const json = new JsonReader(pieces(ndjson, 9), { format: 'ndjson', file: 'x', keepRaw: false, onMalformed: () => undefined });
    await json.names();
    json.setPlan({ columns: [{ name: 'a', typeOid: 23, typeName: 'integer', isArray: false, isJson: false, generated: false }], unknownKey: () => 'unknown' });
    const lines: string[] = [];
    for await (const chunk of json.records()) lines.push(`${[...chunk.lines].join(',')} then ${json.pendingLine()}`);
    // Line 3 is blank: the next object after line 2 starts on line 4.
    expect(lines).toEqual(['1 then 2', '2 then 4', '4 then 5']);
  });
});

describe('JsonReader (NDJSON) read in pieces', () => {
  it('gives the same rows and lines whatever the read size: BOM, CRLF, blank lines, escapes, UTF-8, no final newline', async () => {
    const input = Buffer.from('\ufeff{"a":1,"b":"x"}\r\n\n{"b":"é\\n😀","a":2}\n   \n{"a":3,"b":null}\n{"b":"y","a":4}');
    const read = async (size: number) => {
      async function* pieces() {
        for (let at = 0; at < input.length; at += size) yield input.subarray(at, at + size);
      }
      const reader = new JsonReader(pieces(), { format: 'ndjson', file: 'x', keepRaw: false, onMalformed: () => undefined });
      expect(await reader.names()).toEqual(['a', 'b']);
      reader.setPlan({
        columns: ['a', 'b'].map((name) => ({ name, typeOid: 25, typeName: 'text', isArray: false, isJson: false, generated: false })),
        unknownKey: () => 'unknown',
      });
      const rows: string[] = [];
      for await (const chunk of reader.records()) {
        for (let i = 0; i < chunk.lines.length; i += 1) rows.push(`${chunk.lines[i]}: ${chunk.data.toString('utf8', chunk.offsets[i], chunk.offsets[i + 1])}`);
      }
      return rows;
    };
    const expected = ['1: 1\tx\n', '3: 2\té\\n😀\n', '5: 3\t\\N\n', '6: 4\ty\n'];
    for (const size of [1, 2, 3, 5, 7, 13, input.length]) expect(await read(size), `read size ${size}`).toEqual(expected);
  });

  it('knows where the line of each record ends in the input, and reads on from there after restartAt', async () => {
    const input = Buffer.from('\ufeff{"a":1}\r\n\n{"a":"é"}\n{"a":3}\n   \n{"a":4}');
    const columns = [{ name: 'a', typeOid: 25, typeName: 'text', isArray: false, isJson: false, generated: false }];
    async function* pieces(from: number, size: number) {
      for (let at = from; at < input.length; at += size) yield input.subarray(at, at + size);
    }
    const positions = async (size: number) => {
      const reader = new JsonReader(pieces(0, size), { format: 'ndjson', file: 'x', keepRaw: false, onMalformed: () => undefined });
      await reader.names();
      reader.setPlan({ columns, unknownKey: () => 'unknown' });
      const found: string[] = [];
      for await (const chunk of reader.records()) {
        for (let i = 0; i < chunk.lines.length; i += 1) found.push(`${chunk.lines[i]}@${positionAfter(sliceChunk(chunk, i, i + 1))!.byte}`);
      }
      return found;
    };
    // Lines 1, 3, 4 and 6 (line 2 and 5 are blank); each position is just past its line's end.
    const bom = 3;
    const expected = [`1@${bom + 9}`, `3@${bom + 21}`, `4@${bom + 29}`, `6@${input.length}`];
    for (const size of [1, 4, 9, input.length]) expect(await positions(size), `read size ${size}`).toEqual(expected);
    // After the second record: the reader goes on from line 4 with the right line numbers.
    const reader = new JsonReader(pieces(0, 7), { format: 'ndjson', file: 'x', keepRaw: false, onMalformed: () => undefined });
    await reader.names();
    reader.setPlan({ columns, unknownKey: () => 'unknown' });
    reader.restartAt(pieces(bom + 21, 5), { byte: bom + 21, line: 4 });
    const rows: string[] = [];
    for await (const chunk of reader.records()) for (let i = 0; i < chunk.lines.length; i += 1) rows.push(`${chunk.lines[i]}: ${chunk.data.toString('utf8', chunk.offsets[i], chunk.offsets[i + 1])}`);
    expect(rows).toEqual(['4: 3\n', '6: 4\n']);
  });
});

describe('batchRecords (--jobs)', () => {
  it('starts small and doubles up to 20,000 records', () => {
    expect(Array.from({ length: 7 }, (_, i) => batchRecords(i, 2, undefined, undefined))).toEqual([1000, 2000, 4000, 8000, 16000, 20000, 20000]);
    expect(batchRecords(1000, 2, undefined, undefined)).toBe(20000);
  });
  it('takes fewer as the end of a file of known size nears: a quarter of what is left over 2 jobs, at least 500', () => {
    // 76 bytes a record, 10 MiB left: a full batch; 1.52 MB left: 5,000 records; nothing left: 500.
    expect(batchRecords(10, 2, 10 * 1024 * 1024, 76)).toBe(20000);
    expect(batchRecords(10, 2, 1_520_000, 76)).toBe(5000);
    expect(batchRecords(10, 4, 1_520_000, 76)).toBe(2500);
    expect(batchRecords(10, 2, 0, 76)).toBe(500);
    expect(batchRecords(0, 2, 0, 76)).toBe(500);
    expect(batchRecords(10, 2, 1_520_000, undefined)).toBe(20000);
  });
});

describe('committedFromStart', () => {
  const at = (byte: number) => ({ byte, line: byte + 2 });
  it('goes as far as the windows committed without a gap from the first, to the last input position known', () => {
    expect(committedFromStart([])).toBeUndefined();
    // Parallel workers commit out of order; a gap stops the run.
    expect(committedFromStart([{ from: 20, to: 30, next: at(30) }, { from: 0, to: 10, next: at(10) }, { from: 10, to: 20, next: at(20) }, { from: 40, to: 50, next: at(50) }])).toEqual({ from: 0, to: 30, next: at(30) });
    expect(committedFromStart([{ from: 10, to: 20, next: at(20) }])).toBeUndefined();
    // A window without a position (a record rewritten or skipped inside it): the last known one before it.
    expect(committedFromStart([{ from: 0, to: 10, next: at(10) }, { from: 10, to: 20 }])).toEqual({ from: 0, to: 10, next: at(10) });
    expect(committedFromStart([{ from: 0, to: 10 }])).toBeUndefined();
  });
});
