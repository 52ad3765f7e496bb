// \e: the text in the user's editor, through a temporary file, the terminal handed over meanwhile.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function editText(editor: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgfactory-edit-'));
  const file = path.join(dir, 'query.sql');
  try {
    fs.writeFileSync(file, text.endsWith('\n') || text === '' ? text : `${text}\n`, { mode: 0o600 });
    spawnSync(`${editor} '${file}'`, { shell: true, stdio: 'inherit' });
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
