// Worker-thread entry (bundled as dist/bench-worker.js): runs its share of the clients with its
// own factory, like one pgbench thread, and ships plain results back for the main thread to merge.
// Protocol: → {type:'ready'} ← {type:'start'} … → {type:'interval'}* ← {type:'stop'} (optional)
// → {type:'done', result} or → {type:'error', message}.
import { parentPort, workerData } from 'node:worker_threads';
import type { ConnectionSettings } from '../settings.js';
import { prepareRunner, type IntervalSnapshot, type RunnerSpec, type ShardResult } from './runner.js';

export interface WorkerInput {
  settings: ConnectionSettings;
  spec: RunnerSpec;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'interval'; snapshot: IntervalSnapshot }
  | { type: 'done'; result: ShardResult }
  | { type: 'error'; message: string };

const port = parentPort!;
const input = workerData as WorkerInput;
const send = (message: WorkerMessage) => port.postMessage(message);

try {
  const runner = await prepareRunner(input.settings, input.spec);
  port.on('message', (message: { type: 'start' | 'stop' }) => {
    if (message.type === 'stop') runner.stop();
    if (message.type !== 'start') return;
    runner.run((snapshot) => send({ type: 'interval', snapshot })).then(
      (result) => send({ type: 'done', result }),
      (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }),
    ).finally(() => port.close());
  });
  send({ type: 'ready' });
} catch (error) {
  send({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  port.close();
}
