// The start-up reference: the least a Node program needs to run one query with `pg`
// (connection settings from the same PG* environment variables pgfactory reads).
import pg from 'pg';

const client = new pg.Client();
await client.connect();
const result = await client.query('select 1');
console.log(result.rows);
await client.end();
