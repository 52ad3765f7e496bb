// libpq's connection-string grammar: `key=value` strings and postgres:// URIs, to the letter of
// libpq's fe-connect.c (conninfo_parse, conninfo_uri_parse_options, conninfo_uri_parse_params,
// conninfo_uri_decode). Written here rather than taken from pg-connection-string because that
// library parses with WHATWG `URL`: it rejects what libpq accepts (`postgres://:5433/db`,
// `postgresql://app@`, unvalidated `[200z::1]`), accepts what libpq refuses (`%zz`, `%00`, `?a&b`,
// `?k=k=v`), and cannot split a multi-host authority. Pure: strings in, plain strings out; naming
// which keys exist and what their values mean is resolve.ts's job (via the parameter table).

export interface ConninfoPair {
  key: string;
  value: string;
}

/** A grammar error; `message` is libpq's wording (without the source, which the caller adds). */
export class ConninfoSyntaxError extends Error {}

export const URI_PREFIXES = ['postgresql://', 'postgres://'] as const;

export function uriPrefixLength(text: string): number {
  for (const prefix of URI_PREFIXES) if (text.startsWith(prefix)) return prefix.length;
  return 0;
}

/** psql's rule for -d: a URI, or anything with '=' in it, is a connection string; else a database name. */
export function isConnectionString(text: string): boolean {
  return uriPrefixLength(text) > 0 || text.includes('=');
}

// libpq uses isspace() in the C locale.
const isSpace = (char: string | undefined): boolean =>
  char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '\f' || char === '\v';

/** `key=value key='quoted \' value'`, as conninfo_parse. Keys are not checked here. */
export function parseKeywordValue(text: string): ConninfoPair[] {
  const pairs: ConninfoPair[] = [];
  let i = 0;
  // Messages never echo what follows password=: a key right after it is most likely the tail of an
  // unquoted password with a space.
  const named = (key: string) =>
    pairs.at(-1)?.key === 'password' ? 'the value of password (quote values that contain spaces)' : `"${key}"`;
  while (i < text.length) {
    if (isSpace(text[i])) {
      i++;
      continue;
    }
    const keyStart = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i])) i++;
    const key = text.slice(keyStart, i);
    while (isSpace(text[i])) i++;
    if (text[i] !== '=') throw new ConninfoSyntaxError(`missing "=" after ${named(key)} in connection info string`);
    i++;
    while (isSpace(text[i])) i++;
    let value = '';
    if (text[i] !== "'") {
      while (i < text.length && !isSpace(text[i])) {
        if (text[i] === '\\') {
          i++;
          if (i < text.length) value += text[i++];
        } else {
          value += text[i++];
        }
      }
    } else {
      i++;
      for (;;) {
        if (i >= text.length) {
          throw new ConninfoSyntaxError(`unterminated quoted string after ${key === 'password' ? 'password' : `"${key}"`} in connection info string`);
        }
        if (text[i] === '\\') {
          i++;
          if (i < text.length) value += text[i++];
          continue;
        }
        if (text[i] === "'") {
          i++;
          break;
        }
        value += text[i++];
      }
    }
    pairs.push({ key, value });
  }
  return pairs;
}

const hexValue = (char: string | undefined): number => (char !== undefined && /^[0-9a-fA-F]$/.test(char) ? parseInt(char, 16) : -1);

/** conninfo_uri_decode: every %XX must be two hex digits, and %00 is forbidden. Decodes bytes as UTF-8. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '%') {
      const next = text.indexOf('%', i);
      const end = next === -1 ? text.length : next;
      bytes.push(...encoder.encode(text.slice(i, end)));
      i = end;
      continue;
    }
    const hi = hexValue(text[i + 1]);
    const lo = hexValue(text[i + 2]);
    if (hi < 0 || lo < 0) throw new ConninfoSyntaxError(`invalid percent-encoded token: "${text}"`);
    const byte = (hi << 4) | lo;
    if (byte === 0) throw new ConninfoSyntaxError(`forbidden value %00 in percent-encoded value: "${text}"`);
    bytes.push(byte);
    i += 3;
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/**
 * A postgres:// or postgresql:// URI, as conninfo_uri_parse_options: user and password before '@',
 * a comma-separated host list (IPv6 in brackets, not validated), a port per host, the database
 * after '/', then `?key=value&…`. Every part is percent-decoded; empty parts are left out (an
 * empty host means the default). Query parameters come last, so they override the parts before.
 * The JDBC spelling `ssl=true` becomes `sslmode=require`, as in libpq.
 */
export function parseUri(uri: string): ConninfoPair[] {
  const prefixLength = uriPrefixLength(uri);
  if (prefixLength === 0) throw new ConninfoSyntaxError(`invalid URI: "${uri}"`);
  const pairs: ConninfoPair[] = [];
  const add = (key: string, raw: string) => {
    if (raw === '') return;
    try {
      pairs.push({ key, value: percentDecode(raw) });
    } catch (error) {
      // The token would be echoed: say where instead.
      if (key === 'password') throw new ConninfoSyntaxError('invalid percent-encoding in the password part of the URI');
      throw error;
    }
  };
  let p = prefixLength;
  const at = (index: number): string | undefined => uri[index];

  // User credentials: only when an '@' comes before the first '/'.
  let look = p;
  while (look < uri.length && uri[look] !== '@' && uri[look] !== '/') look++;
  if (at(look) === '@') {
    const userStart = p;
    while (uri[p] !== ':' && uri[p] !== '@') p++;
    add('user', uri.slice(userStart, p));
    if (uri[p] === ':') {
      const passwordStart = ++p;
      while (uri[p] !== '@') p++;
      add('password', uri.slice(passwordStart, p));
    }
    p++;
  }

  const hosts: string[] = [];
  const ports: string[] = [];
  let terminator: string | undefined;
  for (;;) {
    let host: string;
    if (at(p) === '[') {
      const hostStart = ++p;
      while (p < uri.length && uri[p] !== ']') p++;
      if (p >= uri.length) {
        throw new ConninfoSyntaxError(`end of string reached when looking for matching "]" in IPv6 host address in URI: "${uri}"`);
      }
      if (p === hostStart) throw new ConninfoSyntaxError(`IPv6 host address may not be empty in URI: "${uri}"`);
      host = uri.slice(hostStart, p);
      p++;
      const next = at(p);
      if (next !== undefined && next !== ':' && next !== '/' && next !== '?' && next !== ',') {
        throw new ConninfoSyntaxError(`unexpected character "${next}" at position ${p + 1} in URI (expected ":" or "/"): "${uri}"`);
      }
    } else {
      const hostStart = p;
      while (p < uri.length && !':/?,'.includes(uri[p]!)) p++;
      host = uri.slice(hostStart, p);
    }
    terminator = at(p);
    hosts.push(host);
    let port = '';
    if (terminator === ':') {
      const portStart = ++p;
      while (p < uri.length && !'/?,'.includes(uri[p]!)) p++;
      port = uri.slice(portStart, p);
      terminator = at(p);
    }
    ports.push(port);
    if (terminator !== ',') break;
    p++;
  }
  add('host', hosts.join(','));
  add('port', ports.some((port) => port !== '') ? ports.join(',') : '');

  if (terminator !== undefined && terminator !== '?') {
    const dbnameStart = ++p;
    while (p < uri.length && uri[p] !== '?') p++;
    add('dbname', uri.slice(dbnameStart, p));
    terminator = at(p);
  }
  if (terminator !== undefined) pairs.push(...parseUriQuery(uri.slice(p + 1)));
  return pairs;
}

/** The part after '?', as conninfo_uri_parse_params. */
function parseUriQuery(query: string): ConninfoPair[] {
  const pairs: ConninfoPair[] = [];
  let p = 0;
  while (p < query.length) {
    const keyStart = p;
    let equals = -1;
    for (;;) {
      const char = query[p];
      if (char === '=') {
        if (equals !== -1) {
          throw new ConninfoSyntaxError(`extra key/value separator "=" in URI query parameter: "${query.slice(keyStart, equals)}"`);
        }
        equals = p++;
      } else if (char === '&' || char === undefined) {
        if (equals === -1) {
          throw new ConninfoSyntaxError(`missing key/value separator "=" in URI query parameter: "${query.slice(keyStart, p)}"`);
        }
        break;
      } else {
        p++;
      }
    }
    let key = percentDecode(query.slice(keyStart, equals));
    let value: string;
    try {
      value = percentDecode(query.slice(equals + 1, p));
    } catch (error) {
      if (key === 'password') throw new ConninfoSyntaxError('invalid percent-encoding in the password URI query parameter');
      throw error;
    }
    if (key === 'ssl' && value === 'true') {
      key = 'sslmode';
      value = 'require';
    }
    pairs.push({ key, value });
    if (query[p] === '&') p++;
  }
  return pairs;
}

/** Either form; a text with a URI prefix is a URI. */
export function parseConnectionString(text: string): { pairs: ConninfoPair[]; uri: boolean } {
  return uriPrefixLength(text) > 0 ? { pairs: parseUri(text), uri: true } : { pairs: parseKeywordValue(text), uri: false };
}
