// The range census (range-census.ts) for a rotation set — `maillog.7.gz … maillog.1 maillog`, weeks of mail
// read from cron: the inputs are cut into runs of whole files, one per thread. Each thread after the first
// warms up on the last hours of the file before its run (a plain file from the line bisected on timestamps, a
// .gz inflated whole, keeping its last hours), takes the seam state, then reads its files one after another, as
// one pass would (year inference per file). The seams are checked as for one file; if one does not hold, or a
// run met a dialect that keeps state across lines (one pass carries that state over a rotation, and a warm-up
// of some hours cannot rebuild it: line-engine.ts `interpreters`), this thread reads on from its own run's end. A set whose last file holds most of the log
// is left to the split of that file (census.ts).

import fs from 'node:fs';
import { mergeViews, reviveView } from '../aggregate/census-view.js';
import { parseZone } from '../envelope/clock.js';
import { isGzipInput, type ReadResult, readLines, withDescriptor } from '../sources/read-lines.js';
import { type InputSpec, spanBytes } from '../sources/resolve-inputs.js';
import type { CensusEngine } from './engine.js';
import {
  firstLineTime,
  type RangeJob,
  type RangeWorkerInit,
  startRangeWorker,
  TimeProbe,
  trustedRanges,
  WARMUP_MS,
} from './range-census.js';
import { inflatedSizeEstimate } from './stream-range-census.js';

/** Inflating a .gz costs about this much more than reading the same log plain (see SKIP_COST). */
const GZIP_COST = 1.25;
/** A plan whose biggest run holds more than this share of the work is not made. */
const MAX_RUN_SHARE = 0.8;
/** Bytes at the end of a plain file read for its last timestamp. */
const TAIL_BYTES = 256 * 1024;

export interface InputGroups {
  /** Group g is inputs[starts[g]] up to (not including) inputs[starts[g + 1]]; starts[0] is 0. */
  starts: number[];
  /** Where group g's warm-up starts in the input before it: a byte offset, or null for a .gz (inflated whole). */
  warmStarts: (number | null)[];
}

/**
 * Runs of whole inputs for `threads` threads, about equal in work, or null: fewer than two inputs, sizes unknown,
 * a last input with most of the log (its own split does better), or no timestamp at the end of a plain file a
 * run's warm-up would start in.
 */
export function planInputGroups(
  inputs: readonly InputSpec[],
  threads: number,
  timezone: string | undefined,
  warmupMs: number = WARMUP_MS,
): InputGroups | null {
  if (inputs.length < 2 || threads < 2) return null;
  const costs: number[] = [];
  for (const input of inputs) {
    if (input.path === '-' || input.sizeBytes === null) return null;
    costs.push(isGzipInput(input) ? inflatedSizeEstimate(input) * GZIP_COST : spanBytes(input)!);
  }
  const total = costs.reduce((a, b) => a + b, 0);
  if (costs[costs.length - 1]! * 2 >= total) return null;
  // Cut where the running total comes closest to each thread's share; every run keeps at least one file.
  const groups = Math.min(threads, inputs.length);
  const prefix = [0];
  for (const c of costs) prefix.push(prefix[prefix.length - 1]! + c);
  const starts = [0];
  for (let g = 1; g < groups; g++) {
    const target = (total * g) / groups;
    let best = starts[g - 1]! + 1;
    for (let i = best + 1; i <= inputs.length - (groups - g); i++) {
      if (Math.abs(prefix[i]! - target) < Math.abs(prefix[best]! - target)) best = i;
    }
    starts.push(best);
  }
  // Runs this uneven gain less than the chunk pipeline does on every file.
  for (let g = 0; g < groups; g++) {
    if (prefix[starts[g + 1] ?? inputs.length]! - prefix[starts[g]!]! > total * MAX_RUN_SHARE) return null;
  }
  const warmStarts: (number | null)[] = [null];
  for (let g = 1; g < starts.length; g++) {
    const before = inputs[starts[g]! - 1]!;
    if (isGzipInput(before)) warmStarts.push(null);
    else {
      const at = warmStartOf(before, timezone, warmupMs);
      if (at === null) return null;
      warmStarts.push(at);
    }
  }
  return { starts, warmStarts };
}

/** Where the last `warmupMs` of a plain file begin (the line bisected on timestamps), or null. */
function warmStartOf(input: InputSpec, timezone: string | undefined, warmupMs: number): number | null {
  const size = input.sizeBytes ?? 0;
  return withDescriptor(input, (fd) => {
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, size));
    const n = fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    // The latest time among the tail's whole lines.
    const zone = parseZone(timezone);
    let endMs: number | null = null;
    let pos = size > tail.length ? tail.indexOf(10) + 1 : 0;
    if (pos === 0 && size > tail.length) return null;
    while (pos < n) {
      const nl = tail.indexOf(10, pos);
      if (nl < 0 || nl >= n) break;
      const t = firstLineTime(tail, pos, nl + 1, zone, input.mtimeMs);
      if (t !== null && (endMs === null || t > endMs)) endMs = t;
      pos = nl + 1;
    }
    if (endMs === null) return null;
    return new TimeProbe(fd, size, input.mtimeMs, timezone).lastLineAtOrBefore(endMs - warmupMs, size);
  });
}

/**
 * Reads `inputs` in the planned runs: this thread the first, one worker thread each the others. The engine ends
 * up as if it had read them in one pass; returns what each input read, in order. Progress of runs read side by
 * side is reported as one running total (on the first input).
 */
export async function readInputGroups(
  engine: CensusEngine,
  inputs: readonly InputSpec[],
  sourceOf: (input: InputSpec) => string,
  plan: InputGroups,
  init: RangeWorkerInit,
  onProgress?: (input: InputSpec, fileBytes: number) => void,
  warmupMs: number = WARMUP_MS,
): Promise<{ results: ReadResult[]; workers: number }> {
  const groups = plan.starts.length;
  const bytes = new Array<number>(groups).fill(0);
  let fellBack = false;
  const report = onProgress
    ? () =>
        onProgress(
          inputs[0]!,
          bytes.reduce((a, b) => a + b, 0),
        )
    : undefined;
  const inputsOf = (g: number) => inputs.slice(plan.starts[g], plan.starts[g + 1] ?? inputs.length);
  const started = [];
  for (let g = 1; g < groups; g++) {
    const warm = inputs[plan.starts[g]! - 1]!;
    const job: RangeJob = {
      init,
      source: sourceOf(warm),
      mtimeMs: warm.mtimeMs,
      file: null,
      inputs: {
        warm: { input: warm, source: sourceOf(warm), warmStart: plan.warmStarts[g]! },
        files: inputsOf(g).map((input) => ({ input, source: sourceOf(input) })),
        warmupMs,
      },
      last: g === groups - 1,
    };
    started.push(
      startRangeWorker(job, (b) => {
        if (fellBack) return;
        bytes[g] = b;
        report?.();
      }),
    );
  }
  const results: ReadResult[] = [];
  /** Reads `list` here, in order, after what this thread has read (its bytes counted from `base`). */
  const readHere = async (list: readonly InputSpec[]): Promise<void> => {
    for (const input of list) {
      engine.beginSource(sourceOf(input), input.mtimeMs, input.startAt?.line, input.rotationSet ?? null);
      const base = bytes[0]!;
      const result = await readLines(input, engine, {
        progress: (b) => {
          bytes[0] = base + b;
          report?.();
        },
      });
      bytes[0] = base + (spanBytes(input) ?? 0);
      results.push(result);
    }
  };
  try {
    await readHere(inputsOf(0));
    const done = await trustedRanges(
      engine,
      started.map((s) => s.done),
    );
    if (done.length === started.length) {
      engine.discardOpen();
      for (const r of done) {
        engine.absorbInputs(r.counts, r.samples ?? []);
        mergeViews(engine.view, reviveView(r.view));
        engine.absorbHistory(r.history);
        engine.notePartialDecided(r.partialDecided);
        engine.noteOpenAtEnd(r.windowOpenAtEnd);
        engine.noteServices(r.servicesSeen);
        results.push(...(r.files ?? []));
      }
      return { results, workers: started.length };
    }
    // A seam did not hold: read on from this thread's run.
    fellBack = true;
    for (const s of started) void s.end();
    bytes.fill(0, 1);
    await readHere(inputs.slice(plan.starts[1]));
    return { results, workers: 0 };
  } finally {
    await Promise.all(started.map((s) => s.end()));
  }
}
