// The one description of a server in messages and reports, in libpq's words:
// 'host "db", port 5432', 'host "db" (10.0.0.5), port 5432' (with hostaddr) or
// 'socket "/tmp/.s.PGSQL.5432"'. Given settings, it describes their first host.
import path from 'node:path';

export function describeServer(settings: { host: string; port: number; hostaddr?: string | undefined; hosts?: ReadonlyArray<{ host: string; hostaddr?: string | undefined }> }): string {
  const first = settings.hosts?.[0];
  const hostaddr = settings.hostaddr ?? (first !== undefined && first.host === settings.host ? first.hostaddr : undefined);
  if (hostaddr === undefined && settings.host.startsWith('/')) return `socket "${path.join(settings.host, `.s.PGSQL.${settings.port}`)}"`;
  const address = hostaddr !== undefined && hostaddr !== settings.host ? ` (${hostaddr})` : '';
  return `host "${settings.host}"${address}, port ${settings.port}`;
}
