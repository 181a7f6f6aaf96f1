// A large plain log counted in byte ranges, each on its own thread from end to end (lines, sessions, view), and
// the views merged: no per-line traffic between threads, which is what held the chunk pipeline
// (parallel-census.ts) to 1.2× on two cores. DESIGN.md §3's "byte ranges of one file, with sessions stitched
// at the seams".
//
// Exactness. A range's first lines may belong to sessions that began before it, and the fallback detector
// remembers failures from before it. So the thread of range i first *warms up*: it reads the lines of the hours
// before its seam (`WARMUP_MS` of log time, found by bisecting the file on timestamps) only to rebuild the
// correlator's open sessions and the fallback detector's memory, counting nothing; at the seam it takes a
// `seamState` — everything the sessions still to come depend on (the open sessions in order, the latest time,
// the next sweep, the remembered failures). The range before ends at the same seam with its own state, which
// is the one a single pass would have there. If the two are equal, the range's thread turns the following lines
// into exactly the sessions, in exactly the order, that one pass would (the correlator and the detector are
// deterministic, and their sweeps are keyed to log time), so its view is one pass's view of those sessions, and
// `mergeViews(before, range)` equals the view of both (a property test holds mergeViews to that). The range
// before forgets its open sessions (the range carries them on); only the last range closes its sessions at
// the end of the input.
//
// If the states differ (a session older than the warm-up still open at the seam, a clock that went backwards,
// an I/O error, lines of a dialect that keeps state across lines — Exim, Sendmail, OpenSMTPD, Exchange — in a
// range that starts mid-file), the ranges from that seam on are dropped and this thread reads on from its own
// seam: slower, never wrong. So does a first range that claimed no line (one pass may then stop at its 50,000th
// line with "nothing recognised"), and a log naming more cipher names not in the suite table than the view keeps
// apart (census-view.ts MAX_UNKNOWN_SUITES: which ones are folded depends on all the names before). This file splits one plain file; stream-range-census.ts one .gz;
// input-ranges.ts a rotation set into runs of whole files. `--history` is collected the same way: each range's
// thread puts its sessions into hour buckets of its own, absorbed here in order (HourBuckets.absorb caps the
// names as one pass would). Not with a tap on the sessions (`filter.onSession` sees them in order on this
// thread) or `--year` (that year depends on every line before).

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { type CensusView, mergesUnfolded, mergeViews, reviveView } from '../aggregate/census-view.js';
import { parseZone, WallClock, YearResolver } from '../envelope/clock.js';
import { parseEnvelope } from '../envelope/parse-envelope.js';
import type { BucketsPart, RecordableWindow } from '../history/hour-buckets.js';
import { type ReadResult, readLines, type SourceIssue, withDescriptor } from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';
import type { CensusEngine } from './engine.js';
import type { ChunkCounts, UnparsedSample } from './line-engine.js';
import type { SessionFilter } from './session-filter.js';

/**
 * Log time a range's thread reads before its seam. Sessions open at a seam began at most an idle TTL (1 h) plus
 * a sweep period before it, unless they were still active; the failures the fallback detector still needs
 * began at most its window (1 h) plus a sweep period before. Three hours covers both with room; a seam where it
 * does not is found out (the states differ) and read on from.
 */
export const WARMUP_MS = 3 * 60 * 60 * 1000;
/** A range is not worth its thread when its warm-up would be more than this share of it. */
const MAX_WARMUP_SHARE = 1 / 3;
/** How far from a split point to look for a line start, and how much to read for a line's time. */
const PROBE_BYTES = 64 * 1024;
const MAX_LINE_SEARCH = 1 << 20;

export interface RangeWorkerInit {
  mta: readonly string[] | undefined;
  timezone: string | undefined;
  maxSamples: number;
  maxLineBytes: number;
  /** The session filter without its tap (a range census is not used with one). */
  filter: Omit<SessionFilter, 'onSession'>;
  /**
   * Collect the range's sessions into hour buckets, names uncapped, over this window (`--history`): `history` in the
   * reply.
   */
  history: RecordableWindow | null;
  /**
   * The census skipped lines (window-seek.ts): CorrelatorOptions.partialBeforeMs and skippedLatestMs; the reply's
   * `partialDecided` says whether the range met such a decision.
   */
  partialBeforeMs: number | null;
  skippedLatestMs: number | null;
  /** CensusOptions.peersByService. */
  peersByService: boolean;
}

export interface RangeJob {
  init: RangeWorkerInit;
  /** The name samples carry (as the main engine's beginSource was given it). */
  source: string;
  mtimeMs: number | null;
  /** A plain file's range, read from `warmStart` (warm-up) to `end`; null for a .gz's. */
  file: { input: InputSpec; warmStart: number; start: number; end: number | null } | null;
  /** A .gz's range: inflated from the file's start, from the seam at or after `from` to the one at or after `to`. */
  gzip?: { input: InputSpec; from: number; to: number | null; warmupMs: number };
  /**
   * Whole inputs of a rotation set (input-ranges.ts), read one after another, after warming up on the last hours
   * of the input before them (`warm`: from `warmStart` of a plain file, or all of a .gz, keeping its last hours).
   */
  inputs?: {
    warm: { input: InputSpec; source: string; warmStart: number | null };
    files: { input: InputSpec; source: string }[];
    warmupMs: number;
  };
  /** The input's last range: it closes its open sessions at the end. */
  last: boolean;
  /** An Int32Array's buffer, set to 1 when the range is not needed any more: the worker stops and ends by itself. */
  halt?: SharedArrayBuffer;
}

export type RangeReply =
  | { kind: 'progress'; bytes: number }
  | {
      kind: 'done';
      /** The state its warm-up reached at the seam, and the state at its end (null for the last range). */
      startState: string;
      endState: string | null;
      /** It read from its seam to its end (a .gz's seams are estimated: the input may end before one). */
      complete: boolean;
      counts: ChunkCounts;
      view: CensusView;
      bytes: number;
      issue: SourceIssue | null;
      /** Lines of dialects that keep state across lines, warm-up included: the range cannot be trusted. */
      statefulLines: number;
      /** Whole inputs (a rotation set's range): what each read, and the samples with their sources. */
      files?: ReadResult[];
      samples?: UnparsedSample[];
      /** The range's sessions in hour buckets, when the job asked for them. */
      history: BucketsPart | null;
      /** Its correlator read a session that may lack skipped lines (CorrelatorOptions.partialBeforeMs). */
      partialDecided: boolean;
      /** The last range: the sessions of the window still open at its end (CensusEngine.windowOpenAtEnd). */
      windowOpenAtEnd: number;
      /** CensusEngine.servicesSeen. */
      servicesSeen: string[];
    }
  | { kind: 'error'; message: string };

export interface RangePlan {
  /**
   * Range i is [starts[i], starts[i + 1]) (the last one to the end, or the input's `endAt`); starts[0] is 0 or the
   * input's `startAt`.
   */
  starts: number[];
  /** Where range i's thread begins reading (warmStarts[0] is starts[0]: the first range needs no warm-up). */
  warmStarts: number[];
}

/**
 * Where to cut the file into `parts` ranges of about equal size, and where each range's warm-up begins; null
 * when it is not worth it or cannot be done (no timestamps at a seam, warm-ups too long for the ranges).
 */
export function planRanges(
  input: InputSpec,
  parts: number,
  timezone: string | undefined,
  warmupMs: number = WARMUP_MS,
): RangePlan | null {
  // (A file read up to its `endAt`, window-seek.ts, is split up to there.)
  const size = input.endAt ?? input.sizeBytes;
  if (size === null || parts < 2) return null;
  return withDescriptor(input, (fd) => {
    const probe = new TimeProbe(fd, size, input.mtimeMs, timezone);
    // (A file read from a line on, window-seek.ts, is split from there.)
    const first = input.startAt?.byte ?? 0;
    const starts = [first];
    const warmStarts = [first];
    for (let i = 1; i < parts; i++) {
      const start = probe.lineStartAfter(first + Math.floor(((size - first) * i) / parts));
      if (start === null || start <= starts[i - 1]!) return null;
      const at = probe.timeAt(start);
      if (at === null) return null;
      const warmStart = probe.lastLineAtOrBefore(at - warmupMs, start);
      if (warmStart === null) return null;
      starts.push(start);
      warmStarts.push(warmStart);
    }
    for (let i = 1; i < parts; i++) {
      const end = i + 1 < parts ? starts[i + 1]! : size;
      if (starts[i]! - warmStarts[i]! > (end - starts[i]!) * MAX_WARMUP_SHARE) return null;
    }
    return { starts, warmStarts };
  });
}

/** Timestamps at byte offsets of a log file, read as the engine reads them (same zone, same year inference). */
export class TimeProbe {
  private readonly buf = Buffer.alloc(PROBE_BYTES);
  private readonly zone: ReturnType<typeof parseZone>;

  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly mtimeMs: number | null,
    timezone: string | undefined,
  ) {
    this.zone = parseZone(timezone);
  }

  /** The first line start after `offset` (just past a `\n`), or null. */
  lineStartAfter(offset: number): number | null {
    let at = Math.max(0, offset - 1);
    const stop = Math.min(this.size, offset + MAX_LINE_SEARCH);
    while (at < stop) {
      const n = fs.readSync(this.fd, this.buf, 0, Math.min(PROBE_BYTES, stop - at), at);
      if (n <= 0) return null;
      const nl = this.buf.subarray(0, n).indexOf(10);
      if (nl >= 0) return at + nl + 1 < this.size ? at + nl + 1 : null;
      at += n;
    }
    return null;
  }

  /** The time of the first line with one, among the lines starting at `lineStart` (within PROBE_BYTES). */
  timeAt(lineStart: number): number | null {
    const n = fs.readSync(this.fd, this.buf, 0, Math.min(PROBE_BYTES, this.size - lineStart), lineStart);
    return firstLineTime(this.buf, 0, n, this.zone, this.mtimeMs);
  }

  /**
   * A line start at or before `limit` whose time is at most `targetMs`, as late as bisection finds one (the
   * log is taken to be in time order; where it is not, the seam check catches it), or 0.
   */
  lastLineAtOrBefore(targetMs: number, limit: number): number | null {
    let lo = 0;
    let hi = limit;
    while (hi - lo > PROBE_BYTES) {
      const mid = Math.floor((lo + hi) / 2);
      const start = this.lineStartAfter(mid);
      if (start === null || start >= hi) {
        hi = mid;
        continue;
      }
      const t = this.timeAt(start);
      if (t === null) return null;
      if (t <= targetMs) lo = start;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * The time of the first whole line with one in buf[start, end) (`start` a line start), read as the engine reads
 * it: same zone, and a fresh year resolver (with no --year a line's year depends only on it and the mtime).
 */
export function firstLineTime(
  buf: Buffer,
  start: number,
  end: number,
  zone: ReturnType<typeof parseZone>,
  mtimeMs: number | null,
): number | null {
  const ctx = { clock: new WallClock(zone), years: new YearResolver(null, mtimeMs ?? Date.now()) };
  let pos = start;
  for (;;) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0 || nl >= end) return null;
    const env = parseEnvelope(buf.toString('utf8', pos, nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl), ctx);
    if (env !== null && env.timeMs !== null) return env.timeMs;
    pos = nl + 1;
  }
}

/**
 * Reads `input` (the engine has had `beginSource` for it) in the planned ranges: this thread the first, one
 * worker thread each the others. The engine ends up as if it had read the input in one pass.
 */
export async function readInRanges(
  engine: CensusEngine,
  input: InputSpec,
  source: string,
  plan: RangePlan,
  init: RangeWorkerInit,
  progress?: (fileBytes: number) => void,
  readOn?: (start: number, progress?: (fileBytes: number) => void) => Promise<ReadResult>,
): Promise<ReadResult & { workers: number }> {
  const parts = plan.starts.length;
  const workerBytes = new Array<number>(parts).fill(0);
  let ownBytes = 0;
  let fellBack = false;
  const report = progress ? () => progress(ownBytes + workerBytes.reduce((a, b) => a + b, 0)) : undefined;
  const workers: RangeWorker[] = [];
  const replies: Promise<RangeReply>[] = [];
  for (let i = 1; i < parts; i++) {
    const job: RangeJob = {
      init,
      source,
      mtimeMs: input.mtimeMs,
      file: {
        input,
        warmStart: plan.warmStarts[i]!,
        start: plan.starts[i]!,
        end: i + 1 < parts ? plan.starts[i + 1]! : (input.endAt ?? null),
      },
      last: i === parts - 1,
    };
    const started = startRangeWorker(job, (bytes) => {
      if (fellBack) return;
      workerBytes[i] = bytes;
      report?.();
    });
    workers.push(started);
    replies.push(started.done);
  }
  try {
    const first = await readLines(input, engine, {
      range: { start: plan.starts[0]!, end: plan.starts[1]! },
      progress: (b) => {
        ownBytes = b;
        report?.();
      },
    });
    if (first.issue !== null) return { ...first, workers: 0 }; // one pass stops at the error too
    const done = await trustedRanges(engine, replies);
    if (done.length === parts - 1) {
      return { path: input.path, bytes: first.bytes + absorbRanges(engine, done), issue: null, workers: parts - 1 };
    }
    // A seam did not hold: read on from the first seam here (the ranges after it are dropped), through the
    // chunk pipeline when there is one (dialects that keep state across lines are why, often).
    fellBack = true;
    for (const w of workers) void w.end();
    workerBytes.fill(0);
    const onward = (b: number) => {
      ownBytes = first.bytes + b;
      report?.();
    };
    const rest = readOn
      ? await readOn(plan.starts[1]!, onward)
      : await readLines(input, engine, {
          range: { start: plan.starts[1]!, end: input.endAt ?? null },
          progress: onward,
        });
    return { path: input.path, bytes: first.bytes + rest.bytes, issue: rest.issue, workers: 0 };
  } finally {
    await Promise.all(workers.map((w) => w.end()));
  }
}

export type RangeDone = Extract<RangeReply, { kind: 'done' }>;

/** A range worker, what it ends with (never rejected: failures come as `error`), and `end`. */
export interface RangeWorker {
  done: Promise<RangeReply>;
  /**
   * Asks the worker to stop (at its next chunk) and waits until it has exited. A worker is never terminated while
   * busy: Node 20 aborted the whole process (NodePlatform::ForIsolate assertion) when a worker was torn down while
   * V8 still compiled its code on another thread (met with the window seek's workers, which stop the same way).
   */
  end(): Promise<void>;
}

export function startRangeWorker(job: RangeJob, onProgress?: (bytes: number) => void): RangeWorker {
  const halt = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./range-worker.js', import.meta.url), { workerData: { ...job, halt } });
  // (After its reply the worker ends by itself, its heap with it, before the views are merged.)
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const done = new Promise<RangeReply>((resolve) => {
    worker.on('message', (m: RangeReply) => {
      if (m.kind === 'progress') onProgress?.(m.bytes);
      else resolve(m);
    });
    worker.on('error', (e) => resolve({ kind: 'error', message: e.message }));
    worker.on('exit', (code) => resolve({ kind: 'error', message: `range worker stopped (exit code ${code})` }));
  });
  const end = async () => {
    Atomics.store(new Int32Array(halt), 0, 1);
    await exited;
  };
  return { done, end };
}

/**
 * The ranges' results whose seams hold, in order, after the engine's own range: each must have warmed up to the
 * state the range before it ended in, read to its end without error, met no dialect that keeps state across
 * lines (a warm-up of some hours cannot rebuild that state; one pass carries it over even across files), and
 * folded no cipher name nor makes the merge fold one (`mergesUnfolded`). None if the
 * engine claimed no line: then one pass may stop at its 50,000th line with "nothing recognised", which only
 * reading on here reproduces. Stops at the first that fails.
 */
export async function trustedRanges(
  engine: CensusEngine,
  replies: readonly Promise<RangeReply>[],
): Promise<RangeDone[]> {
  const done: RangeDone[] = [];
  if (engine.claimedLines === 0) return done;
  let state = engine.seamState();
  for (const reply of replies) {
    const r = await reply;
    if (r.kind !== 'done' || !r.complete || r.issue !== null || r.startState !== state) break;
    if (r.statefulLines > 0) break;
    // Cipher names folded (census-view.ts MAX_UNKNOWN_SUITES): which ones depends on every name before.
    if (!mergesUnfolded(engine.view, [...done.map((d) => d.view), r.view])) break;
    done.push(r);
    if (r.endState !== null) state = r.endState;
  }
  return done;
}

/**
 * The ranges after the engine's own, into it: its open sessions were carried on by the next range; their counts,
 * samples and foreign programs after its own, their views merged in order. Returns the bytes they read.
 */
export function absorbRanges(engine: CensusEngine, done: readonly RangeDone[]): number {
  engine.discardOpen();
  let bytes = 0;
  for (const r of done) {
    engine.absorbChunk(r.counts, () => {});
    mergeViews(engine.view, reviveView(r.view));
    engine.absorbHistory(r.history);
    engine.notePartialDecided(r.partialDecided);
    engine.noteOpenAtEnd(r.windowOpenAtEnd);
    engine.noteServices(r.servicesSeen);
    bytes += r.bytes;
  }
  return bytes;
}
