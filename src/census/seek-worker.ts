// A worker thread of the window seek (window-seek.ts `earlyLinesSplit`): it proves the early lines of a file from
// a line's start on, as the main thread proves those before it, and sends back what it proved.

import { parentPort, workerData } from 'node:worker_threads';
import { DIALECTS } from '../dialects/registry.js';
import { earlyLinesFrom, LineCheck, ProgramKinds, type SeekJob, type SeekReply } from './window-seek.js';

/** Progress is posted after about this many bytes (a TTY progress line redraws a few times a second). */
const PROGRESS_BYTES = 16 << 20;

const job = workerData as SeekJob;
const dialects = job.mta.map((id) => DIALECTS.find((d) => d.id === id)!);
const check = new LineCheck(
  { beforeMs: job.beforeMs, fromMs: Number.POSITIVE_INFINITY },
  job.mtimeMs,
  job.timezone,
  new ProgramKinds(dialects),
);
let posted = 0;
const { run, reachedEnd } = earlyLinesFrom(job.fd, job.from, Number.POSITIVE_INFINITY, check, (bytes) => {
  if (bytes - posted < PROGRESS_BYTES) return;
  posted = bytes;
  parentPort!.postMessage({ kind: 'progress', bytes } satisfies SeekReply);
});
parentPort!.postMessage({ kind: 'done', run, reachedEnd } satisfies SeekReply);
