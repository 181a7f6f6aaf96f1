// A worker thread of the range census (range-census.ts, stream-range-census.ts): it warms a census engine up on
// the hours before its range (counting nothing), takes the seam state, counts its range from end to end —
// lines, sessions, view — and sends back the state it started from, the state it ended in, its counts and its
// view. A plain file's range it reads from the warm-up's start; a .gz it inflates from the file's start.

import { parentPort, workerData } from 'node:worker_threads';
import { viewTransferables } from '../aggregate/census-view.js';
import { parseZone } from '../envelope/clock.js';
import { HourBuckets } from '../history/hour-buckets.js';
import { type ReadResult, readLines, type SourceIssue } from '../sources/read-lines.js';
import { spanBytes } from '../sources/resolve-inputs.js';
import { selectDialects } from './census.js';
import { CensusEngine } from './engine.js';
import type { RangeJob, RangeReply } from './range-census.js';
import { compileFilter } from './session-filter.js';
import { readInflatedRange, WarmupWindow } from './stream-range-census.js';

/** Progress is posted after about this many bytes (a TTY progress line redraws a few times a second). */
const PROGRESS_BYTES = 16 << 20;

const job = workerData as RangeJob;
const haltFlag = job.halt ? new Int32Array(job.halt) : null;
/** The main thread does not need this range any more (range-census.ts `RangeWorker.end`). */
const halted = () => haltFlag !== null && Atomics.load(haltFlag, 0) !== 0;
const { init } = job;
const { partialBeforeMs, skippedLatestMs } = init;
const engine = new CensusEngine({
  dialects: selectDialects(init.mta),
  zone: parseZone(init.timezone),
  year: null,
  filter: compileFilter(init.filter),
  // Names uncapped: the main thread caps them as one pass would when it absorbs the ranges in order (BucketsPart).
  history: init.history
    ? new HourBuckets({ maxCipherNames: Infinity, maxServiceNames: Infinity, window: init.history })
    : null,
  giveUpAfterLines: 0,
  partialBeforeMs,
  skippedLatestMs,
  window: init.filter,
  maxSamples: init.maxSamples,
  maxLineBytes: init.maxLineBytes,
  peersByService: init.peersByService,
});
engine.beginSource(job.source, job.mtimeMs);

/**
 * The range cannot be used, so stop counting it at once: a dialect that keeps state across lines cannot start
 * mid-file, and a view that folded cipher names or services cannot be merged (census-view.ts).
 */
function useless(): boolean {
  return halted() || engine.statefulLines > 0 || folded();
}

/**
 * Names folded, or more of them than a view or a history keeps: the range is not used (the main thread reads on).
 * The history's names are uncapped here and its sessions are not filtered, so its names are checked on their own.
 */
function folded(): boolean {
  const v = engine.view;
  return (
    v.servicesFolded ||
    v.inbound.folded + v.outbound.folded + v.mailbox.folded > 0 ||
    engine.history?.namesBeyondCaps() === true
  );
}

/** Warm up on the bytes before the seam, then start counting: the state the range starts from. */
function beginRange(): string {
  engine.warmingUp = false;
  engine.beginChunk(); // count from the seam: lines, samples (numbered from it) and foreign programs
  return engine.seamState();
}

function reply(
  startState: string,
  complete: boolean,
  bytes: number,
  issue: SourceIssue | null,
  files?: ReadResult[],
): void {
  const last = job.last;
  let endState: string | null = null;
  if (last) engine.finish();
  else endState = engine.seamState();
  const done: RangeReply = {
    kind: 'done',
    startState,
    endState,
    complete,
    counts: engine.chunkCounts(),
    view: engine.view,
    bytes,
    issue,
    statefulLines: engine.statefulLines,
    history: engine.history?.part() ?? null,
    partialDecided: engine.partialDecided,
    windowOpenAtEnd: engine.windowOpenAtEnd,
    servicesSeen: [...engine.servicesSeen],
  };
  if (files !== undefined) {
    done.files = files;
    done.samples = engine.samples;
  }
  parentPort!.postMessage(done, viewTransferables(engine.view));
}

async function readFileRange(file: NonNullable<RangeJob['file']>): Promise<void> {
  const { input, warmStart, start, end } = file;
  engine.warmingUp = true;
  if (warmStart < start) {
    const warm = await readLines(input, engine, { range: { start: warmStart, end: start }, stop: halted });
    if (warm.issue !== null) throw new Error(warm.issue.message);
  }
  const startState = beginRange();
  let posted = 0;
  const result = await readLines(input, engine, {
    range: { start, end },
    progress: (bytes) => {
      if (bytes - posted < PROGRESS_BYTES) return;
      posted = bytes;
      parentPort!.postMessage({ kind: 'progress', bytes } satisfies RangeReply);
    },
    stop: useless,
  });
  reply(startState, !useless(), result.bytes, result.issue);
}

/** A .gz's range: inflate from the start, keep the hours before the seam, warm up on them, count the range. */
async function readGzipRange(gzip: NonNullable<RangeJob['gzip']>): Promise<void> {
  const { input } = gzip;
  const window = new WarmupWindow(gzip.warmupMs, job.mtimeMs, init.timezone);
  let startState: string | null = null;
  let posted = 0;
  const result = await readInflatedRange(input, engine, init.maxLineBytes, gzip.from, gzip.to, {
    stop: useless,
    skipped: (bytes, offset) => window.add(bytes, offset),
    atSeam: () => {
      engine.warmingUp = true;
      window.replay(engine, init.maxLineBytes);
      startState = beginRange();
    },
    progress: (bytes) => {
      if (bytes - posted < PROGRESS_BYTES) return;
      posted = bytes;
      parentPort!.postMessage({ kind: 'progress', bytes } satisfies RangeReply);
    },
  });
  const complete = startState !== null && result.reachedEnd && !useless();
  reply(startState ?? '', complete, result.bytes, result.issue);
}

/**
 * Whole inputs of a rotation set: warm up on the last hours of the input before them, then read each in turn
 * (year inference per input, as one pass does). Stops at a dialect that keeps state across lines: one pass
 * carries it over from the files before, which this thread has not read (input-ranges.ts).
 */
async function readInputs(spec: NonNullable<RangeJob['inputs']>): Promise<void> {
  const { warm } = spec;
  engine.beginSource(warm.source, warm.input.mtimeMs, 0, warm.input.rotationSet ?? null);
  engine.warmingUp = true;
  if (warm.warmStart !== null) {
    await readLines(warm.input, engine, { range: { start: warm.warmStart, end: null }, stop: halted });
  } else {
    const window = new WarmupWindow(spec.warmupMs, warm.input.mtimeMs, init.timezone);
    await readInflatedRange(warm.input, engine, init.maxLineBytes, Number.MAX_SAFE_INTEGER, null, {
      skipped: (bytes, offset) => window.add(bytes, offset),
      stop: halted,
    });
    window.replay(engine, init.maxLineBytes);
  }
  const startState = beginRange();
  const files: ReadResult[] = [];
  let before = 0;
  for (const { input, source } of spec.files) {
    engine.beginSource(source, input.mtimeMs, input.startAt?.line, input.rotationSet ?? null);
    let posted = 0;
    const result = await readLines(input, engine, {
      progress: (bytes) => {
        if (bytes - posted < PROGRESS_BYTES) return;
        posted = bytes;
        parentPort!.postMessage({ kind: 'progress', bytes: before + bytes } satisfies RangeReply);
      },
      stop: useless,
    });
    before += spanBytes(input) ?? 0;
    files.push(result);
    if (useless()) break;
  }
  reply(startState, !useless(), 0, null, files);
}

try {
  if (job.inputs !== undefined) await readInputs(job.inputs);
  else if (job.file !== null) await readFileRange(job.file);
  else await readGzipRange(job.gzip!);
} catch (e) {
  parentPort!.postMessage({ kind: 'error', message: (e as Error).message } satisfies RangeReply);
}
