// The range census (range-census.ts) for a log that can only be read from its start: a .gz. Every range's
// thread inflates the file itself from the start (node:zlib, off the JS thread, at several times the speed the
// lines are counted) and lets the bytes before its seam go by, keeping only the last hours of them to warm up
// on; then it counts its range. This thread counts the first range and stops at the first seam. No bytes pass
// between threads, and inflating twice costs less than the counting it lets run side by side. The seams are
// checked as for a plain file; if one does not hold, this thread inflates the file again and counts everything
// after its own range.
//
// Where the seams go: the gzip trailer's ISIZE is the inflated size modulo 2^32 (RFC 1952), exact for one
// member under 4 GiB; when it is smaller than the compressed size (a bigger or multi-member file), five times
// the compressed size. A seam is the first line start at or after its target, in the inflated bytes, which
// every thread finds alike. A wrong estimate only makes the ranges unequal.

import fs from 'node:fs';
import { parseZone } from '../envelope/clock.js';
import {
  describeReadError,
  type LineSink,
  LineSplitter,
  namingFile,
  openInput,
  type ReadResult,
  type SourceIssue,
  withDescriptor,
} from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';
import type { CensusEngine } from './engine.js';
import {
  absorbRanges,
  firstLineTime,
  type RangeWorkerInit,
  startRangeWorker,
  trustedRanges,
  WARMUP_MS,
} from './range-census.js';

const READ_BYTES = 1 << 20;
/** The bytes before a seam kept for the warm-up, at most (a busy server's three hours may not fit: then the
 * seam is unlikely to hold, and is read on from). */
const MAX_WARMUP_BYTES = 128 << 20;
/** A .gz's inflated size when its trailer cannot tell (mail logs compress 5:1 to 10:1; genlog's about 5.7:1). */
export const GZIP_RATIO = 5;

/** The inflated size of a .gz, from its trailer (see above). */
export function inflatedSizeEstimate(input: InputSpec): number {
  const compressed = input.sizeBytes ?? 0;
  // (A file too short for a trailer has none: a truncated .gz, whose read reports it.)
  const isize =
    compressed < 4
      ? null
      : withDescriptor(input, (fd) => {
          const trailer = Buffer.alloc(4);
          return fs.readSync(fd, trailer, 0, 4, compressed - 4) === 4 ? trailer.readUInt32LE(0) : null;
        });
  return isize !== null && isize >= compressed ? isize : compressed * GZIP_RATIO;
}

/**
 * What letting a byte of inflated log go by costs a range's thread, against counting it: measured on the 2-core
 * bench machine (inflating its 1 GiB log's .gz on a loaded machine about 2 s, counting it about 7.7).
 */
const SKIP_COST = 0.25;

/**
 * Where the seams of `parts` ranges aim (inflated bytes; each seam is the next line start from there). Range k
 * first lets k seams' worth of bytes go by, so later ranges are shorter: with q = 1 − SKIP_COST, range k takes
 * about T·q^k of the log, T = 1 / (1 + q + … + q^(parts−1)), and every thread finishes at about the same time.
 */
export function seamTargets(input: InputSpec, parts: number): number[] {
  const total = inflatedSizeEstimate(input);
  const q = 1 - SKIP_COST;
  let sum = 0;
  for (let i = 0; i < parts; i++) sum += q ** i;
  const out: number[] = [];
  let share = 0;
  for (let k = 0; k < parts - 1; k++) {
    share += q ** k / sum;
    out.push(Math.floor(total * share));
  }
  return out;
}

/**
 * The inflated bytes of the last `warmupMs` of log time (from the first chunk whose first line is at least that
 * old), at most MAX_WARMUP_BYTES: what a range warms up on.
 */
export class WarmupWindow {
  private readonly chunks: { bytes: Buffer; offset: number; timeMs: number | null }[] = [];
  private bytes = 0;
  private latestMs: number | null = null;
  private readonly zone: ReturnType<typeof parseZone>;

  constructor(
    private readonly warmupMs: number,
    private readonly mtimeMs: number | null,
    timezone: string | undefined,
  ) {
    this.zone = parseZone(timezone);
  }

  /** The inflated bytes at `offset` went by (kept by reference: zlib never reuses an output chunk's memory). */
  add(bytes: Buffer, offset: number): void {
    const first = offset === 0 ? 0 : bytes.indexOf(10) + 1;
    const timeMs =
      first > 0 || offset === 0 ? firstLineTime(bytes, first, bytes.length, this.zone, this.mtimeMs) : null;
    if (timeMs !== null) this.latestMs = timeMs;
    this.chunks.push({ bytes, offset, timeMs });
    this.bytes += bytes.length;
    const horizon = this.latestMs === null ? null : this.latestMs - this.warmupMs;
    for (;;) {
      const next = this.chunks[1];
      if (next === undefined) break;
      const old = horizon !== null && next.timeMs !== null && next.timeMs <= horizon;
      if (!old && this.bytes <= MAX_WARMUP_BYTES) break;
      this.bytes -= this.chunks.shift()!.bytes.length;
    }
  }

  /** The window's whole lines into `sink` (from its first line start, or from the file's start). */
  replay(sink: LineSink, maxLine: number): void {
    const splitter = new LineSplitter(sink, maxLine);
    for (const [i, c] of this.chunks.entries()) {
      if (i > 0 || c.offset === 0) splitter.push(c.bytes);
      else {
        const nl = c.bytes.indexOf(10);
        if (nl >= 0) splitter.push(c.bytes.subarray(nl + 1));
      }
    }
    splitter.end();
  }
}

/**
 * Reads inflated `input` into `sink` from the seam at or after `from` (a line start found as described above)
 * to the one at or after `to` (null: the end), handing the bytes before `from` to `skipped`. `atSeam` runs
 * once the bytes before the seam have gone by. The result's `bytes` counts what was read into `sink`.
 */
export async function readInflatedRange(
  input: InputSpec,
  sink: LineSink,
  maxLine: number,
  from: number,
  to: number | null,
  hooks: {
    skipped?: (bytes: Buffer, offset: number) => void;
    atSeam?: () => void;
    progress?: (fileBytes: number) => void;
    /** Checked after each chunk counted: true ends the read there (`reachedEnd` stays false). */
    stop?: () => boolean;
  } = {},
): Promise<ReadResult & { reachedEnd: boolean }> {
  const splitter = new LineSplitter(sink, maxLine);
  const { raw, stream } = openInput(input, READ_BYTES);
  // Errors of the sink (the census itself: "nothing recognised") are not read errors: they propagate unchanged.
  let sinkError: { error: unknown } | null = null;
  const push = (bytes: Buffer): boolean => {
    try {
      splitter.push(bytes);
      return true;
    } catch (e) {
      sinkError = { error: e };
      return false;
    }
  };
  let offset = 0;
  let bytes = 0;
  let started = from === 0;
  let reachedEnd = false;
  let issue: SourceIssue | null = null;
  /** Compressed bytes read before the seam: progress counts this range's share only. */
  let rawAtSeam = 0;
  if (started) hooks.atSeam?.();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let rest = chunk;
      let at = offset;
      offset += chunk.length;
      let startsHere = false;
      if (!started) {
        const nl = at + rest.length > from ? rest.indexOf(10, Math.max(0, from - at)) : -1;
        if (nl < 0) {
          hooks.skipped?.(rest, at);
          // (Inflating up to a far seam takes a while: a range no longer needed stops here too.)
          if (hooks.stop?.()) return { path: input.path, bytes: 0, issue: null, reachedEnd: false };
          continue;
        }
        hooks.skipped?.(rest.subarray(0, nl + 1), at);
        rest = rest.subarray(nl + 1);
        at += nl + 1;
        started = true;
        startsHere = true;
        rawAtSeam = (raw as fs.ReadStream).bytesRead;
        hooks.atSeam?.();
      }
      // The `\n` the range started after (at `at - 1`) is the first at or after `from`; if it is also at or after
      // `to`, no `\n` lies between them: one line holds both targets, both seams are after it, the range is empty.
      if (startsHere && to !== null && at - 1 >= to) {
        reachedEnd = true;
        break;
      }
      if (to !== null && at + rest.length > to) {
        const nl = rest.indexOf(10, Math.max(0, to - at));
        if (nl >= 0) {
          const head = rest.subarray(0, nl + 1);
          if (!push(head)) break;
          bytes += head.length;
          reachedEnd = true;
          break;
        }
      }
      if (!push(rest)) break;
      bytes += rest.length;
      hooks.progress?.((raw as fs.ReadStream).bytesRead - rawAtSeam);
      if (hooks.stop?.()) return { path: input.path, bytes, issue: null, reachedEnd: false };
    }
  } catch (e) {
    issue = describeReadError(input.path, namingFile(input, e), true, raw, offset);
  } finally {
    raw.destroy();
  }
  if (sinkError !== null) throw (sinkError as { error: unknown }).error;
  splitter.end();
  return { path: input.path, bytes, issue, reachedEnd: reachedEnd || (to === null && issue === null) };
}

/**
 * Reads the .gz `input` (the engine has had `beginSource` for it) in `parts` ranges: the first on this thread,
 * the others on worker threads. The engine ends up as if it had read the input in one pass.
 */
export async function readStreamInRanges(
  engine: CensusEngine,
  input: InputSpec,
  source: string,
  parts: number,
  init: RangeWorkerInit,
  progress?: (fileBytes: number) => void,
  warmupMs: number = WARMUP_MS,
): Promise<ReadResult & { workers: number }> {
  const seams = seamTargets(input, parts);
  const workerBytes = new Array<number>(parts).fill(0);
  let ownBytes = 0;
  let fellBack = false;
  const report = progress ? () => progress(ownBytes + workerBytes.reduce((a, b) => a + b, 0)) : undefined;
  const started = seams.map((target, k) =>
    startRangeWorker(
      {
        init,
        source,
        mtimeMs: input.mtimeMs,
        file: null,
        gzip: { input, from: target, to: seams[k + 1] ?? null, warmupMs },
        last: k === seams.length - 1,
      },
      (bytes) => {
        if (fellBack) return;
        workerBytes[k + 1] = bytes;
        report?.();
      },
    ),
  );
  try {
    const own = await readInflatedRange(input, engine, init.maxLineBytes, 0, seams[0]!, {
      progress: (b) => {
        ownBytes = b;
        report?.();
      },
    });
    if (!own.reachedEnd) return { ...own, workers: 0 }; // an error, or the input ended before the seam
    const done = await trustedRanges(
      engine,
      started.map((s) => s.done),
    );
    if (done.length === started.length) {
      const bytes = own.bytes + absorbRanges(engine, done);
      return { path: input.path, bytes, issue: null, workers: started.length };
    }
    // A seam did not hold: inflate again and count everything after this thread's range here.
    fellBack = true;
    for (const s of started) void s.end();
    workerBytes.fill(0);
    const ownRange = ownBytes;
    const rest = await readInflatedRange(input, engine, init.maxLineBytes, seams[0]!, null, {
      progress: (b) => {
        ownBytes = ownRange + b;
        report?.();
      },
    });
    return { path: input.path, bytes: own.bytes + rest.bytes, issue: rest.issue, workers: 0 };
  } finally {
    await Promise.all(started.map((s) => s.end()));
  }
}
