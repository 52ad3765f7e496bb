// `pgfactory embedded start|stop|status` as text.
import type { EmbeddedStatus } from '../embedded.js';

/** `uri` is shown as given: pass it without the password (terminals and CI logs keep it). */
export function embeddedStartText(startedHere: boolean, uri: string): string {
  return `${startedHere ? 'started' : 'already running'}: ${uri}\n`;
}

export function embeddedStopText(stopped: boolean): string {
  return stopped ? 'stopped\n' : 'not running\n';
}

export function embeddedStatusText(status: EmbeddedStatus): string {
  const state = status.running ? `running (pid ${status.pid})` : status.initialised ? 'stopped' : 'not initialised';
  // Without the password, as psql's \conninfo; `status --uri` prints it with.
  return `status: ${state}\ndata:   ${status.dir}\n${status.uriShown !== undefined ? `uri:    ${status.uriShown}\n` : ''}`;
}
