// The library entry point: census(inputs, options) → { view, diagnostics } (DESIGN.md §2).

import fs from 'node:fs';
import os from 'node:os';
import type { CensusView } from '../aggregate/census-view.js';
import { partialHorizonMs } from '../correlate/correlator.js';
import type { Dialect } from '../dialects/dialect.js';
import { DIALECTS } from '../dialects/registry.js';
import { parseZone } from '../envelope/clock.js';
import type { HourBuckets } from '../history/hour-buckets.js';
import { CensusError } from '../model/errors.js';
import type { Coverage } from '../model/types.js';
import { DEFAULT_MAX_LINE_BYTES, isGzipFile, isGzipInput, readLines, type SourceIssue } from '../sources/read-lines.js';
import { type InputSpec, spanBytes } from '../sources/resolve-inputs.js';
import { CensusEngine, nothingClaimedError, type UnparsedSample } from './engine.js';
import { planInputGroups, readInputGroups } from './input-ranges.js';
import { ParallelCensus } from './parallel-census.js';
import { planRanges, type RangePlan, type RangeWorkerInit, readInRanges } from './range-census.js';
import { compileFilter, type SessionFilter } from './session-filter.js';
import { GZIP_RATIO, readStreamInRanges } from './stream-range-census.js';
import {
  type SkippedPart,
  seekWindow,
  seekWindowEnd,
  tailStillProved,
  type WindowSeek,
  type WindowTail,
} from './window-seek.js';

export interface CensusOptions {
  filter?: SessionFilter;
  /**
   * Collects every closed session into hour buckets (`report --history`), whatever the filter keeps. Unlike a tap
   * (`filter.onSession`, which sees the sessions in order on this thread, and so keeps the census from counting
   * in ranges), buckets are mergeable: each range's thread collects its own, absorbed here in order.
   */
  history?: HourBuckets | null;
  /** Dialect ids to use; empty or ['auto'] = all. */
  mta?: readonly string[];
  year?: number | null;
  timezone?: string;
  maxSamples?: number;
  /** Keep each section's peers per service too (census-view.ts DirectionView.byService): what-if with master.cf. */
  peersByService?: boolean;
  /** Reports bytes consumed per input (for progress display); inputs counted side by side report one total. */
  onProgress?: (input: InputSpec, fileBytes: number) => void;
  /**
   * Threads to count with, this one included (default: the machine's cores, at most 4, for inputs of at least
   * PARALLEL_MIN_BYTES; 1 below that). The inputs are counted in ranges, one per thread (a rotation set in runs
   * of whole files, else the last input in byte ranges), or else worker threads parse chunks that this thread
   * correlates. 1 = one pass on this thread, the reference every other path must equal. With `year`, always 1
   * (the year then depends on every line before).
   */
  threads?: number;
  /** Tuning (tests use small chunks to put many seams into small inputs, and force every code path). */
  parallel?: {
    chunkBytes?: number;
    startAfterBytes?: number;
    countAhead?: 'auto' | 'always' | 'never';
    /** Count the last input in byte ranges, one thread each (range-census.ts), when it is a plain file this big. */
    rangeMinBytes?: number;
    /** Log time each range reads before its seam (range-census.ts WARMUP_MS). */
    warmupMs?: number;
    /** Skip the lines proved dated long before `filter.sinceMs` (window-seek.ts; default true). */
    seek?: boolean;
  };
}

const MAX_DEFAULT_THREADS = 4;
/** With no line of a mail program among this many, the census stops: "nothing recognised" (the wrong file). */
const GIVE_UP_AFTER_LINES = 50_000;

/**
 * Below this much log, worker threads cost more than they give, so by default there are none. Measured with
 * `npm run bench` logs on the 2-core bench machine: 100 MiB took 1.12 s on one thread and 1.26 s on two (and
 * 137 MiB of memory against 182), 300 MiB the same on both, 1 GiB 8.6 s against 6.6 s.
 */
export const PARALLEL_MIN_BYTES = 256 << 20;

/** How many bytes of log the inputs hold, roughly; null when one has no known size (standard input). */
export function estimatedLogBytes(inputs: readonly InputSpec[]): number | null {
  let total = 0;
  for (const input of inputs) {
    if (input.path === '-' || input.sizeBytes === null) return null;
    total += isGzipFile(input.path) ? input.sizeBytes * GZIP_RATIO : spanBytes(input)!;
  }
  return total;
}

function threadsFor(inputs: readonly InputSpec[], options: CensusOptions): number {
  if ((options.year ?? null) !== null) return 1;
  if (options.threads !== undefined) return options.threads;
  return defaultThreadsFor(inputs, defaultThreads());
}

/** The census threads for these inputs on a machine with `threads` to give (`defaultThreads()`). */
export function defaultThreadsFor(inputs: readonly InputSpec[], threads: number): number {
  const bytes = estimatedLogBytes(inputs);
  return bytes !== null && bytes < PARALLEL_MIN_BYTES ? 1 : threads;
}

/** Whether most of the inputs' log (as estimatedLogBytes counts it) is in .gz files. */
function mostlyGzip(inputs: readonly InputSpec[]): boolean {
  let gz = 0;
  let plain = 0;
  for (const input of inputs) {
    if (input.path === '-' || input.sizeBytes === null) return false;
    if (isGzipFile(input.path)) gz += input.sizeBytes * GZIP_RATIO;
    else plain += spanBytes(input)!;
  }
  return gz > plain;
}

/**
 * The ranges to count the input in (range-census.ts), or null: only a plain file at least `rangeMinBytes` long,
 * on more than one thread, with no tap on the sessions (`filter.onSession` sees them in order on this thread).
 */
function rangePlanFor(input: InputSpec, threads: number, options: CensusOptions): RangePlan | 'stream' | null {
  if (input.path === '-' || input.sizeBytes === null) return null;
  if (isGzipInput(input)) {
    // A .gz is split as it is inflated (stream-range-census.ts); its size counts as GZIP_RATIO times.
    return input.sizeBytes * GZIP_RATIO < (options.parallel?.rangeMinBytes ?? PARALLEL_MIN_BYTES) ? null : 'stream';
  }
  if (spanBytes(input)! < (options.parallel?.rangeMinBytes ?? PARALLEL_MIN_BYTES)) return null;
  return planRanges(input, threads, options.timezone, options.parallel?.warmupMs);
}

/**
 * Whether the census may count in ranges at all: more than one thread, no tap on the sessions (it sees them in
 * order on this thread; `history` does not need that), and enough log (`rangeMinBytes`, estimated as
 * estimatedLogBytes does).
 */
function rangesAllowed(inputs: readonly InputSpec[], threads: number, options: CensusOptions): boolean {
  if (threads < 2 || (options.filter?.onSession ?? null) !== null) return false;
  const bytes = estimatedLogBytes(inputs);
  return bytes !== null && bytes >= (options.parallel?.rangeMinBytes ?? PARALLEL_MIN_BYTES);
}

function withoutTap(filter: SessionFilter): Omit<SessionFilter, 'onSession'> {
  const { onSession: _tap, ...rest } = filter;
  return rest;
}

export function defaultThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, cores));
}

export interface SourceSummary {
  path: string;
  /** Bytes read. */
  bytes: number;
  issue: SourceIssue | null;
  /** The lines at its start left unread, proved dated before the window (window-seek.ts); absent when none. */
  skipped?: { bytes: number; lines: number };
  /** The lines at its end left unread, proved dated after the window (window-seek.ts); absent when none. */
  skippedAfter?: { bytes: number; lines: number };
}

export interface Diagnostics {
  coverage: Coverage;
  sources: SourceSummary[];
  issues: SourceIssue[];
  samples: UnparsedSample[];
  /**
   * Lines written by programs a dialect claims (events + unrecognized + malformed among them, and such lines a
   * window-seek skipped).
   */
  claimedLines: number;
  /** Worker threads that counted (0: all on this thread). The result is the same either way. */
  workers: number;
  /** The services of the sessions read, whatever the filter kept (at most MAX_SERVICES, sorted). */
  servicesSeen: string[];
}

export interface CensusResult {
  view: CensusView;
  diagnostics: Diagnostics;
}

export function selectDialects(ids: readonly string[] | undefined): Dialect[] {
  if (!ids || ids.length === 0 || (ids.length === 1 && ids[0] === 'auto')) return [...DIALECTS];
  return ids.map((id) => {
    const d = DIALECTS.find((x) => x.id === id);
    if (!d) {
      throw new CensusError('unknown-mta', `unknown MTA: ${id}`, {
        hint: `use auto or one of: ${DIALECTS.map((x) => x.id).join(', ')}`,
      });
    }
    return d;
  });
}

export async function census(given: readonly InputSpec[], options: CensusOptions = {}): Promise<CensusResult> {
  const dialects = selectDialects(options.mta);
  // (Only with the inputs pinned: more than MAX_PINNED are not, and a rotation between the seek and the read would
  // then skip the head of another file.)
  // (And only when every input can be read again: a read that cannot stand reads everything, and standard input or
  // a pipe would then be read empty.)
  const pinnable = given.length <= MAX_PINNED && given.every(isRegularFile);
  const seeking = seekAllowed(options) && (options.filter?.sinceMs ?? null) !== null && pinnable;
  const tailing = seekAllowed(options) && (options.filter?.untilMs ?? null) !== null && pinnable;
  // Files counted in ranges are pinned: every thread, and a read that falls back, then reads the same file; so are
  // files a window-seek skips lines of, so that the lines it proved outside the window are the lines then skipped.
  const pins =
    seeking || tailing || rangesAllowed(given, threadsFor(given, options), options) ? pinInputs(given) : null;
  try {
    const pinned = pins?.inputs ?? given;
    const readAll = async () => (await countInputs(pinned, options, dialects, threadsFor(pinned, options))).result!;
    const seek = seeking
      ? await seekWindow(pinned, {
          sinceMs: options.filter!.sinceMs!,
          timezone: options.timezone,
          dialects,
          giveUpAfterLines: GIVE_UP_AFTER_LINES,
          ...(options.onProgress ? { progress: options.onProgress } : {}),
          threads: threadsFor(pinned, options),
          splitMinBytes: options.parallel?.rangeMinBytes ?? PARALLEL_MIN_BYTES,
        })
      : null;
    const afterSeek = seek?.inputs ?? pinned;
    const tail = tailing
      ? await seekWindowEnd(afterSeek, {
          untilMs: options.filter!.untilMs!,
          timezone: options.timezone,
          dialects,
          ...(options.onProgress ? { progress: options.onProgress } : {}),
          threads: threadsFor(pinned, options),
          splitMinBytes: options.parallel?.rangeMinBytes ?? PARALLEL_MIN_BYTES,
        })
      : null;
    if (seek === null && tail === null) return await readAll();
    let counted =
      tail === null
        ? null
        : await countInputs(tail.inputs, options, dialects, threadsFor(tail.inputs, options), seek, tail);
    // Reading stopped early but a session of the window was still open there, or nothing read was a mail program's
    // line (one pass may give up on those), or the file grew since with lines not proved late: read to the end.
    if (
      counted !== null &&
      !counted.partialDecided &&
      !(counted.tailHeld && tailStillProved(tail!, options.timezone, dialects))
    ) {
      counted = null;
    }
    if (counted === null && seek !== null) {
      counted = await countInputs(seek.inputs, options, dialects, threadsFor(seek.inputs, options), seek);
    }
    // A session that may lack skipped lines took part in a decision (correlator.ts partialBeforeMs): read it all.
    if (counted === null || counted.partialDecided) return await readAll();
    const result = counted.result!;
    const parts = [...(seek?.skipped ?? []), ...(counted.tail ? tail!.skipped : [])];
    noteSkipped(result.diagnostics.sources, pinned, seek?.skipped ?? [], counted.tail ? tail!.skipped : []);
    result.diagnostics.coverage.skipped = parts.reduce((n, part) => n + part.lines, 0);
    if (counted.tail) result.diagnostics.claimedLines += tail!.claimedLines;
    return result;
  } finally {
    pins?.close();
  }
}

/**
 * Whether lines long before or after the window may be skipped (window-seek.ts): not when told not to, nor with
 * anything that needs every line — `--year` (the year of a line depends on those before), `--history` (it records
 * every session), a tap on the sessions.
 */
function seekAllowed(options: CensusOptions): boolean {
  return (
    options.parallel?.seek !== false &&
    (options.year ?? null) === null &&
    (options.history ?? null) === null &&
    (options.filter?.onSession ?? null) === null
  );
}

/**
 * The skipped parts into the sources (one per input read, in order): an input not read at all gets a source of
 * its own where it stood among `inputs`; one read from a line on gets its `skipped`, one read up to a line its
 * `skippedAfter`.
 */
function noteSkipped(
  sources: SourceSummary[],
  inputs: readonly InputSpec[],
  before: readonly SkippedPart[],
  after: readonly SkippedPart[],
): void {
  const beforeOf = new Map(before.map((part) => [part.input, part]));
  // (The window's end was sought among the inputs the seek left, some of them new objects: by path and descriptor.)
  const same = (a: InputSpec, b: InputSpec) => a.path === b.path && a.fd === b.fd;
  const afterOf = (input: InputSpec) => after.find((part) => same(part.input, input));
  const read = [...sources];
  sources.length = 0;
  for (const input of inputs) {
    const head = beforeOf.get(input);
    const tail = afterOf(input);
    const source = head?.dropped || tail?.dropped ? { path: input.path, bytes: 0, issue: null } : read.shift();
    if (source === undefined) continue;
    if (head !== undefined) source.skipped = { bytes: head.bytes, lines: head.lines };
    // (An empty file passed over is just an empty file.)
    if (tail !== undefined && tail.bytes > 0) source.skippedAfter = { bytes: tail.bytes, lines: tail.lines };
    sources.push(source);
  }
  sources.push(...read);
}

/** A regular file (not standard input, a pipe or a device), as it is now; false if it cannot be looked at. */
function isRegularFile(input: InputSpec): boolean {
  if (input.path === '-') return false;
  try {
    return (input.fd !== undefined ? fs.fstatSync(input.fd) : fs.statSync(input.path)).isFile();
  } catch {
    return false;
  }
}

/** More inputs than this are not pinned: their descriptors would crowd the process's limit (often 1024). */
const MAX_PINNED = 256;

/** Open descriptors for the inputs that are files (those that cannot be opened are left to fail when read). */
function pinInputs(inputs: readonly InputSpec[]): { inputs: readonly InputSpec[]; close(): void } {
  if (inputs.length > MAX_PINNED) return { inputs, close: () => {} };
  const fds: number[] = [];
  const pinned = inputs.map((input) => {
    if (input.path === '-' || input.fd !== undefined) return input;
    try {
      // Regular files only: opening a FIFO would block until a writer came.
      if (!fs.statSync(input.path).isFile()) return input;
      const fd = fs.openSync(input.path, 'r');
      fds.push(fd);
      return { ...input, fd };
    } catch {
      return input;
    }
  });
  return {
    inputs: pinned,
    close: () => {
      for (const fd of fds) {
        try {
          fs.closeSync(fd);
        } catch {
          // nothing to do: the census's own result or error stands
        }
      }
    },
  };
}

/** A census of some inputs, and whether it stands for one pass over all of them. */
interface Counted {
  /** Null when the read cannot stand (`tail` and not `tailHeld`). */
  result: CensusResult | null;
  /** A session that may lack lines skipped at the start took part in a decision: read everything. */
  partialDecided: boolean;
  /** The inputs' end was skipped (a WindowTail)… */
  tail: boolean;
  /** …and no session of the window was open where reading stopped, and something was read of a mail program. */
  tailHeld: boolean;
}

async function countInputs(
  inputs: readonly InputSpec[],
  options: CensusOptions,
  dialects: Dialect[],
  threads: number,
  seek: WindowSeek | null = null,
  tail: WindowTail | null = null,
): Promise<Counted> {
  const partialBeforeMs = seek === null ? null : partialHorizonMs(seek.skippedBeforeMs);
  const skippedLatestMs = seek === null ? null : seek.skippedLatestMs;
  const engine = new CensusEngine({
    dialects,
    zone: parseZone(options.timezone),
    year: options.year ?? null,
    filter: compileFilter(options.filter ?? {}),
    history: options.history ?? null,
    giveUpAfterLines: GIVE_UP_AFTER_LINES,
    partialBeforeMs,
    skippedLatestMs,
    window: options.filter ?? {},
    peersByService: options.peersByService === true,
    ...(options.maxSamples !== undefined ? { maxSamples: options.maxSamples } : {}),
  });
  engine.claimSkipped(seek?.claimedLines ?? 0);
  const sources: SourceSummary[] = [];
  const finished = (workers: number): Counted => {
    const partialDecided = engine.partialDecided;
    // With the end skipped, nothing read from a mail program: one pass may give up where this read did not get.
    if (tail !== null && engine.claimedLines === 0)
      return { result: null, partialDecided, tail: true, tailHeld: false };
    const result = finishCensus(engine, dialects, sources, workers);
    return { result, partialDecided, tail: tail !== null, tailHeld: engine.windowOpenAtEnd === 0 };
  };
  const sourceOf = (input: InputSpec) => (input.path === '-' ? '(stdin)' : input.path);
  const rangeInit: RangeWorkerInit = {
    mta: options.mta,
    timezone: options.timezone,
    maxSamples: options.maxSamples ?? 20,
    maxLineBytes: DEFAULT_MAX_LINE_BYTES,
    filter: withoutTap(options.filter ?? {}),
    history: options.history?.window ?? null,
    partialBeforeMs,
    skippedLatestMs,
    peersByService: options.peersByService === true,
  };
  // A rotation set in runs of whole files (input-ranges.ts), one thread each.
  const groups = rangesAllowed(inputs, threads, options)
    ? planInputGroups(inputs, threads, options.timezone, options.parallel?.warmupMs)
    : null;
  if (groups !== null) {
    const { results, workers } = await readInputGroups(
      engine,
      inputs,
      sourceOf,
      groups,
      rangeInit,
      options.onProgress,
      options.parallel?.warmupMs,
    );
    for (const r of results) sources.push({ path: r.path, bytes: r.bytes, issue: r.issue });
    return finished(workers);
  }
  // Otherwise the last input, if big, in byte ranges (range-census.ts, stream-range-census.ts), and the others
  // through the chunk pipeline (parallel-census.ts), which leaves a core to inflating when most of them are .gz.
  // Inflating keeps a core busy (node:zlib, on the thread pool): measured on the 2-core bench machine with its 1 GiB
  // log's .gz, the chunk pipeline took 6.8 s on one census thread, 8.4 s of CPU and 245 MiB, and 6.7 s, 11 s of
  // CPU and 310 MiB on two.
  const chunkThreads = options.threads === undefined && mostlyGzip(inputs) ? Math.max(1, threads - 1) : threads;
  const parallel =
    chunkThreads > 1
      ? new ParallelCensus(engine, {
          workers: chunkThreads - 1,
          chunkBytes: options.parallel?.chunkBytes ?? 2 << 20,
          startAfterBytes: options.parallel?.startAfterBytes ?? 4 << 20,
          countAhead: options.parallel?.countAhead ?? 'auto',
          maxLineBytes: DEFAULT_MAX_LINE_BYTES,
          init: {
            mta: options.mta,
            timezone: options.timezone,
            maxSamples: options.maxSamples ?? 20,
            maxLineBytes: DEFAULT_MAX_LINE_BYTES,
          },
        })
      : null;
  let rangeWorkers = 0;
  const last = inputs[inputs.length - 1];
  try {
    for (const input of inputs) {
      const source = sourceOf(input);
      engine.beginSource(source, input.mtimeMs, input.startAt?.line, input.rotationSet ?? null);
      const onProgress = options.onProgress;
      // (The bytes a window-seek skipped were reported as it went, under the input it was handed.)
      const progress = onProgress ? (bytes: number) => onProgress(input, bytes) : undefined;
      const plan =
        input === last && rangesAllowed(inputs, threads, options) ? rangePlanFor(input, threads, options) : null;
      if (plan !== null) {
        const { workers: used, ...result } =
          plan === 'stream'
            ? await readStreamInRanges(engine, input, source, threads, rangeInit, progress, options.parallel?.warmupMs)
            : await readInRanges(
                engine,
                input,
                source,
                plan,
                rangeInit,
                progress,
                parallel ? (start, onward) => parallel.read(input, onward, start) : undefined,
              );
        rangeWorkers = used;
        sources.push({ path: result.path, bytes: result.bytes, issue: result.issue });
        continue;
      }
      const result = parallel
        ? await parallel.read(input, progress)
        : await readLines(
            input,
            {
              line: (buf, s, e) => engine.line(buf, s, e),
              lines: (buf, s, e) => engine.lines(buf, s, e),
              overlong: (n) => engine.overlong(n),
            },
            progress ? { progress } : {},
          );
      sources.push({ path: result.path, bytes: result.bytes, issue: result.issue });
    }
  } finally {
    await parallel?.close();
  }
  return finished(Math.max(parallel?.workers ?? 0, rangeWorkers));
}

/** All inputs read: the engine's result, or the "nothing recognised" error. */
function finishCensus(
  engine: CensusEngine,
  dialects: readonly Dialect[],
  sources: SourceSummary[],
  workers: number,
): CensusResult {
  const done = engine.finish();
  if (done.coverage.lines > 0 && done.claimedLines === 0) {
    throw nothingClaimedError(done.coverage.lines, engine.foreignPrograms, dialects);
  }
  return {
    view: done.view,
    diagnostics: {
      coverage: done.coverage,
      sources,
      issues: sources.flatMap((s) => (s.issue ? [s.issue] : [])),
      samples: done.samples,
      claimedLines: done.claimedLines,
      workers,
      servicesSeen: [...engine.servicesSeen].sort(),
    },
  };
}
