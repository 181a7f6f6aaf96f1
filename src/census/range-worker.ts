// A worker thread of the range census (range-census.ts): it warms a census engine up on the hours before its
// range (counting nothing), takes the seam state, counts its range from end to end — lines, sessions, view —
// and sends back the state it started from, the state it ended in, its counts and its view.

import { parentPort, workerData } from 'node:worker_threads';
import { viewTransferables } from '../aggregate/census-view.js';
import { parseZone } from '../envelope/clock.js';
import { readLines } from '../sources/read-lines.js';
import { selectDialects } from './census.js';
import { CensusEngine } from './engine.js';
import type { RangeJob, RangeReply } from './range-census.js';
import { compileFilter } from './session-filter.js';

/** Progress is posted after about this many bytes (a TTY progress line redraws a few times a second). */
const PROGRESS_BYTES = 16 << 20;

async function run(job: RangeJob): Promise<void> {
  const { init } = job;
  const engine = new CensusEngine({
    dialects: selectDialects(init.mta),
    zone: parseZone(init.timezone),
    year: null,
    filter: compileFilter(init.filter),
    giveUpAfterLines: 0,
    maxSamples: init.maxSamples,
    maxLineBytes: init.maxLineBytes,
  });
  const input = { path: job.path, mtimeMs: job.mtimeMs, sizeBytes: null };
  engine.beginSource(job.source, job.mtimeMs);
  engine.warmingUp = true;
  if (job.warmStart < job.start) {
    const warm = await readLines(input, engine, { range: { start: job.warmStart, end: job.start } });
    if (warm.issue !== null) throw new Error(warm.issue.message);
  }
  engine.warmingUp = false;
  engine.beginChunk(); // count from the seam: lines, samples (numbered from it) and foreign programs
  const startState = engine.seamState();
  let posted = 0;
  const result = await readLines(input, engine, {
    range: { start: job.start, end: job.end },
    progress: (bytes) => {
      if (bytes - posted < PROGRESS_BYTES) return;
      posted = bytes;
      parentPort!.postMessage({ kind: 'progress', bytes } satisfies RangeReply);
    },
  });
  let endState: string | null = null;
  if (job.last) engine.finish();
  else endState = engine.seamState();
  const reply: RangeReply = {
    kind: 'done',
    startState,
    endState,
    counts: engine.chunkCounts(),
    view: engine.view,
    bytes: result.bytes,
    issue: result.issue,
    statefulLines: engine.statefulLines,
  };
  parentPort!.postMessage(reply, viewTransferables(engine.view));
}

run(workerData as RangeJob).catch((e: unknown) => {
  parentPort!.postMessage({ kind: 'error', message: (e as Error).message } satisfies RangeReply);
});
