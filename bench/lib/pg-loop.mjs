// The pooled-bench ceiling for a Node client: one `pg` connection running `SELECT 1` back to back
// for N seconds, results discarded unparsed (as pgfactory bench and pgbench do). Prints
// {"ops_per_sec": …}. Settings come from the same PG* environment variables.
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const seconds = Number(process.argv[2] ?? 10);

/** A pg Submittable that settles at ReadyForQuery and never builds a result object. */
class DiscardingQuery {
  constructor(resolve, reject) {
    this.resolve = resolve;
    this.reject = reject;
  }
  submit(connection) {
    connection.query('SELECT 1');
  }
  handleRowDescription() {}
  handleDataRow() {}
  handleCommandComplete() {}
  handleEmptyQuery() {}
  handleError(error) {
    this.failed = error;
  }
  handleReadyForQuery() {
    if (this.failed !== undefined) this.reject(this.failed);
    else this.resolve();
  }
}

const client = new pg.Client();
await client.connect();
const started = performance.now();
const endAt = started + seconds * 1000;
let ops = 0;
while (performance.now() < endAt) {
  await new Promise((resolve, reject) => client.query(new DiscardingQuery(resolve, reject)));
  ops += 1;
}
const elapsedS = (performance.now() - started) / 1000;
await client.end();
console.log(JSON.stringify({ ops_per_sec: ops / elapsedS }));
