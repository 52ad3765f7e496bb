// `bench init`: pgbench -i's tables, so the built-in scripts run where pgbench is not installed.
// The steps, their SQL and the data are pgbench 15's (initCreateTables, createPartitions,
// initGenerateData*, initVacuum, initCreatePKeys, initCreateFKeys): a run against these tables
// measures what pgbench measures after `pgbench -i`. Client-side generation streams pgbench_accounts through
// COPY (FREEZE from PostgreSQL 14 on, in the transaction that truncated it, as pgbench does).
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { formatServerError, isDatabaseError } from '../db-errors.js';
import { ServerError, UsageError } from '../errors.js';

/** pgbench's step letters, in the order its help lists them. */
const INIT_STEPS = 'dtgGvpf';
const DEFAULT_STEPS = 'dtgvp';

const BRANCHES_PER_SCALE = 1;
const TELLERS_PER_SCALE = 10;
const ACCOUNTS_PER_SCALE = 100_000;
/** From this scale on, account ids pass 2^31 and aid columns are bigint (pgbench's SCALE_32BIT_THRESHOLD). */
const SCALE_32BIT_THRESHOLD = 20_000;
/** Client-side generation reports its progress every this many accounts (pgbench without -q). */
const PROGRESS_ROWS = 100_000;
/** Accounts per COPY chunk. */
const CHUNK_ROWS = 10_000;

export interface InitOptions {
  scale: number;
  /** -F: fillfactor of pgbench_accounts, _tellers and _branches (10–100). */
  fillfactor: number;
  /** -I: the steps to run, in order (validated by initSteps). */
  steps: string;
  unlogged: boolean;
  /** --partitions: pgbench_accounts in this many partitions (0: one plain table), by `partitionMethod`. */
  partitions: number;
  partitionMethod: 'range' | 'hash';
  /** -q: progress every 5 s instead of every 100,000 rows. */
  quiet: boolean;
}

export interface InitResult {
  seconds: number;
  steps: Array<{ name: string; seconds: number }>;
}

const STEP_NAMES: Record<string, { name: string; message: string }> = {
  d: { name: 'drop tables', message: 'dropping old tables...' },
  t: { name: 'create tables', message: 'creating tables...' },
  g: { name: 'client-side generate', message: 'generating data (client-side)...' },
  G: { name: 'server-side generate', message: 'generating data (server-side)...' },
  v: { name: 'vacuum', message: 'vacuuming...' },
  p: { name: 'primary keys', message: 'creating primary keys...' },
  f: { name: 'foreign keys', message: 'creating foreign keys...' },
};

/** -I as pgbench reads it (spaces ignored), plus f for --foreign-keys; a bad letter is a usage error. */
export function initSteps(steps: string | undefined, foreignKeys: boolean, vacuum = true): string {
  let result = (steps ?? DEFAULT_STEPS).replace(/ /g, '');
  if (result === '') throw new UsageError('-I/--init-steps: no initialization step given (allowed: d t g G v p f)');
  for (const step of result) {
    if (!INIT_STEPS.includes(step)) throw new UsageError(`-I/--init-steps: unrecognized initialization step "${step}" (allowed: d t g G v p f)`);
  }
  if (result.includes('g') && result.includes('G')) throw new UsageError('-I/--init-steps: "g" and "G" cannot both be given (client-side or server-side generation)');
  if (foreignKeys && !result.includes('f')) result += 'f';
  // -n: no vacuum step, even one -I names (as pgbench -i -n).
  return vacuum ? result : result.replace(/v/g, '');
}

const TABLES = 'pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers';

function createTables(options: InitOptions): string[] {
  const aid = options.scale >= SCALE_32BIT_THRESHOLD ? 'bigint' : 'int';
  const tables: Array<[string, string, boolean]> = [
    ['pgbench_history', `tid int,bid int,aid ${aid},delta int,mtime timestamp,filler char(22)`, false],
    ['pgbench_tellers', 'tid int not null,bid int,tbalance int,filler char(84)', true],
    ['pgbench_accounts', `aid ${aid} not null,bid int,abalance int,filler char(84)`, true],
    ['pgbench_branches', 'bid int not null,bbalance int,filler char(88)', true],
  ];
  return tables.map(([name, columns, fillfactor]) => {
    // A partitioned pgbench_accounts: its partitions hold the rows, the fillfactor and the logging.
    if (name === 'pgbench_accounts' && options.partitions > 0) return `create table ${name}(${columns}) partition by ${options.partitionMethod} (aid)`;
    return `create${unlogged(options)} table ${name}(${columns})${fillfactor ? ` with (fillfactor=${options.fillfactor})` : ''}`;
  });
}

const unlogged = (options: InitOptions) => (options.unlogged ? ' unlogged' : '');

/** pgbench's createPartitions: ranges open at both ends, or hash remainders. */
function partitions(options: InitOptions): string[] {
  const count = options.partitions;
  const size = Math.ceil((ACCOUNTS_PER_SCALE * options.scale) / count);
  return Array.from({ length: count }, (_, index) => {
    const p = index + 1;
    const bounds = options.partitionMethod === 'range'
      ? `for values from (${p === 1 ? 'minvalue' : (p - 1) * size + 1}) to (${p < count ? p * size + 1 : 'maxvalue'})`
      : `for values with (modulus ${count}, remainder ${p - 1})`;
    return `create${unlogged(options)} table pgbench_accounts_${p} partition of pgbench_accounts ${bounds} with (fillfactor=${options.fillfactor})`;
  });
}

/** Branches and tellers, as pgbench 15 fills them (filler NULL). */
function smallTables(scale: number): string[] {
  return [
    `insert into pgbench_branches(bid,bbalance) select bid, 0 from generate_series(1, ${BRANCHES_PER_SCALE * scale}) as bid`,
    `insert into pgbench_tellers(tid,bid,tbalance) select tid, (tid - 1) / ${TELLERS_PER_SCALE} + 1, 0 from generate_series(1, ${TELLERS_PER_SCALE * scale}) as tid`,
  ];
}

/** Runs the steps; `onMessage` gets pgbench's step and progress lines. */
export async function initTables(client: pg.Client, options: InitOptions, onMessage: (line: string) => void): Promise<InitResult> {
  const started = performance.now();
  const steps: InitResult['steps'] = [];
  for (const step of options.steps) {
    const { name, message } = STEP_NAMES[step];
    onMessage(message);
    const stepStarted = performance.now();
    try {
      await runStep(client, step, options, onMessage);
    } catch (error) {
      // What the earlier steps did stays done, as with pgbench.
      if (isDatabaseError(error)) throw new ServerError(`bench init, ${name}: ${formatServerError(error)}`, error.code);
      throw error;
    }
    steps.push({ name, seconds: (performance.now() - stepStarted) / 1000 });
  }
  return { seconds: (performance.now() - started) / 1000, steps };
}

async function runStep(client: pg.Client, step: string, options: InitOptions, onMessage: (line: string) => void): Promise<void> {
  const run = async (statements: string[]) => {
    for (const statement of statements) await client.query(statement);
  };
  switch (step) {
    case 'd':
      await run([`drop table if exists ${TABLES}`]);
      break;
    case 't':
      await run(createTables(options));
      if (options.partitions > 0) {
        onMessage(`creating ${options.partitions} partitions...`);
        await run(partitions(options));
      }
      break;
    case 'g':
      await generateClientSide(client, options, onMessage);
      break;
    case 'G':
      await run(['begin', `truncate table ${TABLES}`, ...smallTables(options.scale),
        `insert into pgbench_accounts(aid,bid,abalance,filler) select aid, (aid - 1) / ${ACCOUNTS_PER_SCALE} + 1, 0, '' from generate_series(1, ${ACCOUNTS_PER_SCALE * options.scale}) as aid`,
        'commit']);
      break;
    case 'v':
      await run(['pgbench_branches', 'pgbench_tellers', 'pgbench_accounts', 'pgbench_history'].map((table) => `vacuum analyze ${table}`));
      break;
    case 'p':
      await run(['alter table pgbench_branches add primary key (bid)', 'alter table pgbench_tellers add primary key (tid)', 'alter table pgbench_accounts add primary key (aid)']);
      break;
    case 'f':
      await run([
        'alter table pgbench_tellers add constraint pgbench_tellers_bid_fkey foreign key (bid) references pgbench_branches',
        'alter table pgbench_accounts add constraint pgbench_accounts_bid_fkey foreign key (bid) references pgbench_branches',
        'alter table pgbench_history add constraint pgbench_history_bid_fkey foreign key (bid) references pgbench_branches',
        'alter table pgbench_history add constraint pgbench_history_tid_fkey foreign key (tid) references pgbench_tellers',
        'alter table pgbench_history add constraint pgbench_history_aid_fkey foreign key (aid) references pgbench_accounts',
      ]);
      break;
  }
}

async function generateClientSide(client: pg.Client, options: InitOptions, onMessage: (line: string) => void): Promise<void> {
  const total = ACCOUNTS_PER_SCALE * options.scale;
  const version = Number((await client.query<{ server_version_num: string }>('SHOW server_version_num')).rows[0].server_version_num);
  await client.query('begin');
  try {
    await client.query(`truncate table ${TABLES}`);
    for (const statement of smallTables(options.scale)) await client.query(statement);
    const started = performance.now();
    let lastReport = started;
    const progress = (done: number) => {
      const now = performance.now();
      if (options.quiet ? now - lastReport < 5000 && done < total : done % PROGRESS_ROWS !== 0 && done < total) return;
      lastReport = now;
      const elapsed = (now - started) / 1000;
      const remaining = (elapsed * (total - done)) / done;
      onMessage(`${done} of ${total} tuples (${Math.trunc((done * 100) / total)}%) done (elapsed ${elapsed.toFixed(2)} s, remaining ${remaining.toFixed(2)} s)`);
    };
    async function* rows(): AsyncGenerator<string> {
      for (let first = 1; first <= total; first += CHUNK_ROWS) {
        const last = Math.min(total, first + CHUNK_ROWS - 1);
        let chunk = '';
        for (let aid = first; aid <= last; aid += 1) chunk += `${aid}\t${Math.trunc((aid - 1) / ACCOUNTS_PER_SCALE) + 1}\t0\t\n`;
        yield chunk;
        progress(last);
      }
    }
    // COPY FREEZE does not take a partitioned table.
    const freeze = version >= 140000 && options.partitions === 0;
    await pipeline(Readable.from(rows()), client.query(copyFrom(`copy pgbench_accounts from stdin${freeze ? ' with (freeze on)' : ''}`)));
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}

/** pgbench's last line: `done in 0.58 s (drop tables 0.00 s, create tables 0.00 s, …).` */
export function initSummary(result: InitResult): string {
  return `done in ${result.seconds.toFixed(2)} s (${result.steps.map((step) => `${step.name} ${step.seconds.toFixed(2)} s`).join(', ')}).`;
}
