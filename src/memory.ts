// Keeps V8's young generation from growing past a few MiB. V8 doubles it (up to 16 MiB
// semi-spaces) while many objects survive a scavenge — a batch of statements and their results
// in a restore, the rows of a chunk in a JSON load — though the live heap stays small. Past
// YOUNG_GENERATION_BYTES the growth factor is set to 1, so a long run keeps a flat peak RSS
// (bench/README.md, Cases 3b and 7). The flag is read each time V8 would grow the space, so setting
// it at run time takes effect (--max-semi-space-size does not: it is read once, at start-up).
import v8 from 'node:v8';
import vm from 'node:vm';

const YOUNG_GENERATION_BYTES = 8 << 20;
let youngGenerationCapped = false;

/** Call now and then during a long run: cheap once the cap is set. */
export function capYoungGeneration(): void {
  if (youngGenerationCapped) return;
  const space = v8.getHeapSpaceStatistics().find((entry) => entry.space_name === 'new_space');
  if (space === undefined || space.space_size < YOUNG_GENERATION_BYTES) return;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  youngGenerationCapped = true;
}

/**
 * Sets the V8 flags this module changed back to V8's defaults. The launcher (bin/pgfactory) calls
 * it at exit before it writes the command's code cache: V8 rejects a cache made under flags other
 * than those the next run starts with, and a load that set them rewrote its cache on every run.
 */
export function restoreV8Flags(): void {
  if (youngGenerationCapped) v8.setFlagsFromString('--semi-space-growth-factor=2');
  if (collect !== null) v8.setFlagsFromString('--no-expose-gc');
}

// V8's gc(), found on first use; undefined where it cannot be exposed.
let collect: ((options?: { type: 'minor' }) => void) | undefined | null = null;
let bytesSinceCollect = 0;
const COLLECT_BYTES = 16 << 20;
let bytesSinceScavenge = 0;
const SCAVENGE_BYTES = 4 << 20;

function gcFunction(): ((options?: { type: 'minor' }) => void) | undefined {
  if (collect === null) {
    try {
      v8.setFlagsFromString('--expose-gc');
      collect = vm.runInNewContext('gc') as (options?: { type: 'minor' }) => void;
    } catch {
      collect = undefined;
    }
  }
  return collect;
}

/**
 * Input readers, and the COPY TO parser for each socket chunk, call this with each buffer read. A
 * read buffer's memory is outside V8's heap, freed only when a collection finds its small JS
 * object dead; a load or export that allocates few JS objects of its own collects seldom, and
 * dead buffers then pile up, raising the peak RSS (bench/README.md, Figures behind the code). A
 * young-generation collection every 4 MiB read frees them.
 */
export function scavengeAfterReading(bytes: number): void {
  bytesSinceScavenge += bytes;
  if (bytesSinceScavenge < SCAVENGE_BYTES) return;
  bytesSinceScavenge = 0;
  gcFunction()?.({ type: 'minor' });
}

/**
 * A parallel load's input buffers, where they are not filled in turn (stdin, JSON arrays; a file
 * is otherwise read into a few buffers in turn and each piece copied into its batch's buffer:
 * insert/parallel.ts), live in batches long enough to reach V8's old generation, and with few JS
 * objects allocated the old generation is collected late: only after 64 MiB of dead buffers has
 * piled up outside the heap (V8's external-memory trigger), and meanwhile every new read buffer
 * takes fresh pages, each a page fault. Collecting after every 16 MiB of sent batches keeps that
 * memory small and lets malloc hand the same pages out again.
 */
export function collectAfterSending(bytes: number): void {
  bytesSinceCollect += bytes;
  if (bytesSinceCollect < COLLECT_BYTES) return;
  bytesSinceCollect = 0;
  gcFunction()?.();
}
