// Messages from the server the way psql prints them (errors with a caret under the position,
// notices), and the test that tells a server error from any other. query, insert and bench all
// report server errors; this is their one home.
import type pg from 'pg';
import type { Statement } from './sql.js';

export function isDatabaseError(error: unknown): error is pg.DatabaseError {
  return error instanceof Error && typeof (error as { severity?: unknown }).severity === 'string' && typeof (error as { code?: unknown }).code === 'string';
}

/**
 * A server error the way psql prints it: severity, SQLSTATE and message, the offending line with
 * a caret under the error position, then DETAIL, HINT and CONTEXT.
 */
export function formatServerError(error: pg.DatabaseError, statement?: Statement, positionOffset = 0, sourceName?: string): string {
  const severity = error.severity ?? 'ERROR';
  const prefix = sourceName !== undefined && sourceName !== '-' && statement !== undefined ? `${sourceName}:${statement.line}: ` : '';
  const lines = [`${prefix}${severity}:  ${error.code}: ${error.message}`];
  const position = error.position !== undefined ? Number(error.position) - positionOffset : NaN;
  if (statement !== undefined && Number.isInteger(position) && position >= 1) {
    // The position counts characters (not bytes) from 1.
    const chars = [...statement.text];
    const before = chars.slice(0, position - 1).join('');
    const lineIndex = before.split('\n').length - 1;
    const lineText = statement.text.split('\n')[lineIndex];
    const column = [...before.split('\n')[lineIndex]].length;
    const label = `LINE ${statement.line + lineIndex}: `;
    lines.push(label + lineText);
    lines.push(' '.repeat(label.length + column) + '^');
  }
  if (error.detail !== undefined) lines.push(`DETAIL:  ${error.detail}`);
  if (error.hint !== undefined) lines.push(`HINT:  ${error.hint}`);
  if (error.where !== undefined) lines.push(`CONTEXT:  ${error.where}`);
  return lines.join('\n');
}

/** A NOTICE or WARNING as psql prints it: severity and message, then DETAIL and HINT. */
export function formatNotice(notice: ServerNotice): string {
  const lines = [`${notice.severity ?? 'NOTICE'}:  ${notice.message}`];
  if (notice.detail !== undefined) lines.push(`DETAIL:  ${notice.detail}`);
  if (notice.hint !== undefined) lines.push(`HINT:  ${notice.hint}`);
  return lines.join('\n');
}

/** The fields of a NOTICE/WARNING message that are printed (pg's NoticeMessage has them). */
export interface ServerNotice {
  severity?: string;
  message?: string;
  detail?: string;
  hint?: string;
}
