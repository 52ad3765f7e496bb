// `pgfactory embedded start|stop|status` as text.
import type { EmbeddedStatus } from '../embedded.js';

export function embeddedStartText(startedHere: boolean, uri: string): string {
  return `${startedHere ? 'started' : 'already running'}: ${uri}\n`;
}

export function embeddedStopText(stopped: boolean): string {
  return stopped ? 'stopped\n' : 'not running\n';
}

export function embeddedStatusText(status: EmbeddedStatus): string {
  const state = status.running ? `running (pid ${status.pid})` : status.initialised ? 'stopped' : 'not initialised';
  return `status: ${state}\ndata:   ${status.dir}\n${status.uri !== undefined ? `uri:    ${status.uri}\n` : ''}`;
}
