// The connection service file (pg_service.conf), as libpq reads it: INI sections, `key=value`
// lines, the first matching section wins. Pure: the caller reads the file.
import { SettingsError } from '../errors.js';
import { isParameterName, type ParameterName } from './parameters.js';

/** The entry for `service` in an INI-style service file, or undefined when the file lacks it. */
export function findServiceEntry(text: string, service: string, file: string): Array<{ key: ParameterName; value: string }> | undefined {
  const entries: Array<{ key: ParameterName; value: string }> = [];
  let inTarget = false;
  let found = false;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (found) break; // libpq stops at the section after the one it wanted
      inTarget = line.endsWith(']') && line.slice(1, -1).trim() === service;
      found = inTarget;
      continue;
    }
    if (!inTarget) continue;
    const equals = line.indexOf('=');
    if (equals === -1) throw new SettingsError(`syntax error in service file "${file}", line ${index + 1}`);
    // libpq does not trim around '='; trimming is kinder and cannot change a valid file's meaning.
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (key === 'service') {
      throw new SettingsError(`nested service specifications not supported in service file "${file}", line ${index + 1}`);
    }
    if (!isParameterName(key)) {
      throw new SettingsError(`invalid connection option "${key}" in service file "${file}", line ${index + 1}`);
    }
    entries.push({ key, value });
  }
  return found ? entries : undefined;
}

