// A worker thread of the window seek (window-seek.ts `earlyLinesSplit`, `lateLinesSplit`): it proves the early
// lines of a file from a line's start on, or its late lines from a line's start down, as the main thread proves
// those beside them, and sends back what it proved.

import { parentPort, workerData } from 'node:worker_threads';
import { DIALECTS } from '../dialects/registry.js';
import {
  earlyLinesFrom,
  LineCheck,
  lateLinesDownFrom,
  ProgramKinds,
  type Run,
  type SeekJob,
  type SeekReply,
  type SeekResult,
} from './window-seek.js';

/** Progress is posted after about this many bytes (a TTY progress line redraws a few times a second). */
const PROGRESS_BYTES = 16 << 20;

const job = workerData as SeekJob;
const dialects = job.mta.map((id) => DIALECTS.find((d) => d.id === id)!);
const check = new LineCheck(
  { beforeMs: job.beforeMs, fromMs: job.fromMs },
  job.mtimeMs,
  job.timezone,
  new ProgramKinds(dialects),
);
const stopFlag = new Int32Array(job.stop);
/** The main thread does not need the proof any more: stop at the next chunk and end (window-seek.ts). */
const stopped = () => Atomics.load(stopFlag, 0) !== 0;
let posted = 0;
const progress = (bytes: number) => {
  if (bytes - posted < PROGRESS_BYTES) return;
  posted = bytes;
  parentPort!.postMessage({ kind: 'progress', bytes } satisfies SeekReply);
};
let result: SeekResult;
if (job.kind === 'early') {
  const { run, reachedEnd } = earlyLinesFrom(job.fd, job.from, Number.POSITIVE_INFINITY, check, progress, stopped);
  result = { kind: 'early', run, reachedEnd };
} else {
  const run: Run = { bytes: 0, lines: 0, claimed: 0, firstClaimed: 0, latestMs: Number.NEGATIVE_INFINITY };
  const hi = lateLinesDownFrom(job.fd, job.from, job.floor, check, run, progress, stopped);
  result = { kind: 'late', run, hi };
}
parentPort!.postMessage({ kind: 'done', result } satisfies SeekReply);
