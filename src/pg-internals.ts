// The one door to private parts of pg, pg-cursor, pg-copy-streams and pg-protocol: each reach is
// one exported function with the reason it is needed.
import pg from 'pg';

type QueryInternals = pg.Query & { handleCommandComplete(msg: { text: string }, connection: unknown): void };

export interface TaggedResult {
  /** One result per statement that completed, in order. */
  results: pg.QueryResult[];
  /** The server's command tag of each completed statement (`CREATE TABLE`, `INSERT 0 1`). */
  tags: string[];
}

/**
 * Runs `text` with the simple protocol (one round trip, several statements allowed) and keeps the
 * server's full command tags: pg's Result keeps only the first word and the row count. Reaches
 * into Query.handleCommandComplete.
 * On an error, `completedTags` on the error holds the tags of the statements that completed.
 */
export function simpleQueryWithTags(client: pg.Client, text: string, types: pg.CustomTypesConfig): Promise<TaggedResult> {
  return new Promise((resolve, reject) => {
    const tags: string[] = [];
    const query = new pg.Query({
      text,
      rowMode: 'array',
      types,
      callback: (error: Error | null, result: pg.QueryResult | pg.QueryResult[]) => {
        if (error) reject(Object.assign(error, { completedTags: tags }));
        else resolve({ results: Array.isArray(result) ? result : [result], tags });
      },
    } as pg.QueryConfig) as QueryInternals;
    const original = query.handleCommandComplete;
    query.handleCommandComplete = function (msg, connection) {
      tags.push(msg.text);
      original.call(this, msg, connection);
    };
    void client.query(query as unknown as pg.QueryConfig);
  });
}
