// Pure value formatters: how one server text value is written in each output format.
// Values arrive as the server's text representation (type parsers are disabled), so nothing is
// lost before formatting: int8 and numeric keep every digit, timestamps their microseconds.

export interface Column {
  name: string;
  /** The column's type OID, as the server describes it. */
  typeOid: number;
}

export type Row = Array<string | null>;

/** COPY … (FORMAT csv): quote when needed, and always for the empty string so it differs from NULL. */
export function csvField(value: string | null, nullString = ''): string {
  if (value === null) return nullString;
  if (value === '' || value === nullString || value === '\\.' || /[",\r\n]/.test(value)) {
    return `"${value.replace(/"/g, '""')}"`;
  }
  return value;
}

export function csvLine(values: Row, nullString = ''): string {
  let line = '';
  for (let i = 0; i < values.length; i += 1) line += (i === 0 ? '' : ',') + csvField(values[i], nullString);
  return line + '\n';
}

const TEXT_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/** COPY … (FORMAT text): backslash escapes, `\N` for NULL. */
export function tsvField(value: string | null, nullString = '\\N'): string {
  if (value === null) return nullString;
  return value.replace(/[\\\b\f\n\r\t\v]/g, (c) => TEXT_ESCAPES[c]);
}

export function tsvLine(values: Row, nullString = '\\N'): string {
  let line = '';
  for (let i = 0; i < values.length; i += 1) line += (i === 0 ? '' : '\t') + tsvField(values[i], nullString);
  return line + '\n';
}

// Type OIDs (pg_type.oid) that map onto JSON types.
const NUMBER_TYPES = new Set([20, 21, 23, 26, 700, 701, 1700]);
const BOOL_TYPE = 16;
const JSON_TYPES = new Set([114, 3802]);
const TIMESTAMP_TYPE = 1114;
const TIMESTAMPTZ_TYPE = 1184;
const ISO_TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(:\d\d)?(:\d\d)?)?( BC)?$/;

/**
 * A timestamp as to_json writes it (`2024-01-02T03:04:05+00:00`), so rows typed here match the
 * rows the server turns into JSON (plain queries use row_to_json). Text in another DateStyle, and
 * infinity, stay as the server wrote them.
 */
export function isoTimestamp(text: string): string {
  const match = ISO_TIMESTAMP.exec(text);
  if (match === null) return text;
  const [, date, time, hours, minutes, seconds, era] = match;
  const offset = hours === undefined ? '' : `${hours}${minutes ?? ':00'}${seconds ?? ''}`;
  return `${date}T${time}${offset}${era ?? ''}`;
}
/** Array type OID -> element type OID, for the element types that are not JSON strings. */
const ARRAY_ELEMENTS: Record<number, number> = {
  1005: 21, 1007: 23, 1016: 20, 1028: 26, 1021: 700, 1022: 701, 1231: 1700,
  1000: 16, 199: 114, 3807: 3802,
};
/** Array types whose elements are strings. */
const STRING_ARRAYS = new Set([1009, 1015, 1014, 1115, 1185, 1182, 1183, 2951, 1001, 1041, 651, 1040, 1270, 1561, 1563, 1263, 1002]);

function jsonScalar(text: string, typeOid: number): string {
  if (NUMBER_TYPES.has(typeOid)) {
    // NaN and ±Infinity have no JSON number: keep them as strings, as to_json does.
    return /^-?[0-9]/.test(text) ? text : JSON.stringify(text);
  }
  if (typeOid === BOOL_TYPE) return text === 't' ? 'true' : 'false';
  if (typeOid === TIMESTAMP_TYPE || typeOid === TIMESTAMPTZ_TYPE) return JSON.stringify(isoTimestamp(text));
  if (JSON_TYPES.has(typeOid)) return text;
  return JSON.stringify(text);
}

/** One value as JSON text, exact: numbers are copied digit for digit, never through a double. */
export function jsonValue(value: string | null, typeOid: number): string {
  if (value === null) return 'null';
  const element = ARRAY_ELEMENTS[typeOid];
  if (element !== undefined) return arrayToJson(value, element);
  if (STRING_ARRAYS.has(typeOid)) return arrayToJson(value, 25);
  return jsonScalar(value, typeOid);
}

export function jsonObject(columns: Column[], values: Row): string {
  let out = '{';
  for (let i = 0; i < columns.length; i += 1) {
    out += (i === 0 ? '' : ',') + JSON.stringify(columns[i].name) + ':' + jsonValue(values[i], columns[i].typeOid);
  }
  return out + '}';
}

/** Parses a PostgreSQL array literal (`{1,2,NULL}`, `{{a,"b c"}}`) into JSON text. */
export function arrayToJson(literal: string, elementOid: number): string {
  let i = 0;
  // Optional dimension decoration: [1:2]={…}
  if (literal[0] === '[') i = literal.indexOf('=') + 1;
  const parse = (): string => {
    // literal[i] === '{'
    i += 1;
    const items: string[] = [];
    while (i < literal.length) {
      const c = literal[i];
      if (c === '}') {
        i += 1;
        return `[${items.join(',')}]`;
      }
      if (c === ',') {
        i += 1;
        continue;
      }
      if (c === '{') {
        items.push(parse());
        continue;
      }
      if (c === '"') {
        let text = '';
        i += 1;
        while (i < literal.length && literal[i] !== '"') {
          if (literal[i] === '\\') i += 1;
          text += literal[i];
          i += 1;
        }
        i += 1;
        items.push(jsonScalar(text, elementOid));
        continue;
      }
      let end = i;
      while (end < literal.length && literal[end] !== ',' && literal[end] !== '}') end += 1;
      const text = literal.slice(i, end);
      i = end;
      items.push(text === 'NULL' ? 'null' : jsonScalar(text, elementOid));
    }
    return `[${items.join(',')}]`;
  };
  return parse();
}

/** Numeric-looking columns are right-aligned in tables, as psql does. */
export function isNumericType(typeOid: number): boolean {
  return NUMBER_TYPES.has(typeOid);
}
