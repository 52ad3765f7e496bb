// The one description of a server in messages and reports, in libpq's words:
// 'host "db", port 5432' or 'socket "/tmp/.s.PGSQL.5432"'.
import path from 'node:path';

export function describeServer(settings: { host: string; port: number }): string {
  return settings.host.startsWith('/')
    ? `socket "${path.join(settings.host, `.s.PGSQL.${settings.port}`)}"`
    : `host "${settings.host}", port ${settings.port}`;
}
