// `report --since 1d` over weeks of log: the lines long before the window cannot change what it counts, so they
// are skipped instead of read — files wholly before it, and the head of the file it starts in.
//
// Which lines. A report counts the sessions that start in the window (session-filter.ts). Lines dated before
// `since − WARMUP_MS` cannot touch such a session: a session still open when the window starts was active within
// the idle TTL (1 h) plus a sweep period before it, or it would have been swept, so one pass and a read that
// starts WARMUP_MS (3 h) earlier both see it begin before the window and leave it out; a session that starts in
// the window is made of lines dated in the window; the fallback detector looks back one hour. And since sweeps
// fall on fixed periods of log time (correlator.ts), both reads sweep alike from the first line read on.
//
// Proved, not guessed. A log is not always in time order (a clock stepped back, lines merged from hosts), so
// bisecting on timestamps would be a guess. Each skipped line is read — its stamp only, from the bytes, as the
// engine's fast path reads it (FastEnvelope) — and skipping stops at the first line that is not provably early:
// dated at or after that point, or with a stamp the byte scan does not read (which the engine might place
// anywhere). That is a newline search and a stamp per line, about a seventh of the census's cost per line.
//
// A .gz cannot be entered midway: it is skipped whole or read whole. Proving a whole one early means inflating
// it (node:zlib, on the thread pool, several at once) and reading its stamps, about 1.2 s per inflated GiB of a
// core against 3.5 for the census; it is tried only while the files' times say they ended before that point
// (a rotated log's mtime is its last write), so a file the window starts in is not inflated twice.
// Not with `--year` (a line's year then depends on the lines before it), `--history` (it records every session,
// in the window or not) or a tap on the sessions; not into standard input: skipping stops there.

import fs from 'node:fs';
import { parseZone, WallClock, YearResolver } from '../envelope/clock.js';
import { FastEnvelope } from '../envelope/fast-envelope.js';
import { locateTag, newTagSpan, TAG_SYSLOG } from '../envelope/locate-program.js';
import type { EnvelopeContext } from '../envelope/parse-envelope.js';
import { isGzipInput, openInput } from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';

const CHUNK_BYTES = 4 << 20;
/** `Mmm dd HH:MM:SS` and its space. */
const RFC3164_STAMP = 16;
/** A line longer than this ends the skipping (the engine counts such a line as malformed: it is left to it). */
const MAX_LINE_BYTES = 64 * 1024;

/** An input not read, or read from a line on: what was skipped of it. */
export interface SkippedPart {
  input: InputSpec;
  bytes: number;
  lines: number;
  /** All of the input (else its head: it is read from `startAt`). */
  whole: boolean;
}

export interface WindowSeek {
  /** The inputs left to read; the first may start at a line (`InputSpec.startAt`). */
  inputs: InputSpec[];
  /** What was skipped, per input, in order (the last may be the head of `inputs[0]`). */
  skipped: SkippedPart[];
}

/**
 * Skips, from the start of `inputs`, the lines proved dated before `sinceMs − warmupMs`; null when nothing can be
 * skipped.
 */
export async function seekWindow(
  inputs: readonly InputSpec[],
  sinceMs: number,
  timezone: string | undefined,
  warmupMs: number,
  progress?: (input: InputSpec, fileBytes: number) => void,
): Promise<WindowSeek | null> {
  const before = sinceMs - warmupMs;
  const skipped: SkippedPart[] = [];
  let i = 0;
  while (i < inputs.length) {
    const input = inputs[i]!;
    if (input.path === '-' || input.sizeBytes === null || input.startAt !== undefined) break;
    if (isGzipInput(input)) {
      // The run of .gz files whose times say they ended early enough, proved side by side; skipped up to the first
      // that is not wholly early.
      let j = i;
      while (j < inputs.length && isGzipInput(inputs[j]!) && (inputs[j]!.mtimeMs ?? Infinity) < before) j++;
      const runs = await provedInOrder(inputs.slice(i, j), (gz) => earlyInflated(gz, before, timezone, progress));
      for (const [k, r] of runs.entries())
        skipped.push({ input: inputs[i + k]!, bytes: r.bytes, lines: r.lines, whole: true });
      if (runs.length < j - i || j === i) break;
      i = j;
      continue;
    }
    const early = earlyLines(input, before, timezone, progress && ((bytes) => progress(input, bytes)));
    if (early.bytes === 0) break;
    // The last input is kept (read from where the skipping stopped) even when every line in it was early: it may
    // be the live log, and lines written since were not proved.
    const whole = early.bytes === input.sizeBytes && i < inputs.length - 1;
    skipped.push({ input, bytes: early.bytes, lines: early.lines, whole });
    if (!whole) {
      const rest = [{ ...input, startAt: { byte: early.bytes, line: early.lines } }, ...inputs.slice(i + 1)];
      return { inputs: rest, skipped };
    }
    i++;
  }
  return skipped.length === 0 ? null : { inputs: inputs.slice(i), skipped };
}

/** .gz files proved at once: two at a time (the cores of a small server), none started after one fails. */
const GZIP_AT_ONCE = 2;

/** The results of `prove` for the first of `inputs` up to the first that is not proved (null), in order. */
async function provedInOrder<T>(
  inputs: readonly InputSpec[],
  prove: (input: InputSpec) => Promise<T | null>,
): Promise<T[]> {
  const results: (T | null | undefined)[] = [];
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < inputs.length) {
      const k = next++;
      results[k] = await prove(inputs[k]!);
      if (results[k] === null) failed = true;
    }
  };
  await Promise.all(Array.from({ length: GZIP_AT_ONCE }, lane));
  const out: T[] = [];
  for (const r of results) {
    if (r === null || r === undefined) break;
    out.push(r);
  }
  return out;
}

/** Reads the stamps of whole lines as the engine reads them, and tells how many are dated before `beforeMs`. */
class StampCheck {
  private readonly ctx: EnvelopeContext;
  private readonly fast = new FastEnvelope();
  private readonly span = newTagSpan();
  /** The last RFC 3164 stamp read (with its space) and its time: most lines share their second with the line before. */
  private readonly last = Buffer.alloc(RFC3164_STAMP);
  private lastMs = Number.NaN;

  constructor(
    private readonly beforeMs: number,
    mtimeMs: number | null,
    timezone: string | undefined,
  ) {
    this.ctx = { clock: new WallClock(parseZone(timezone)), years: new YearResolver(null, mtimeMs ?? Date.now()) };
  }

  /**
   * The whole lines at the start of buf[0, n) dated early: their bytes and number; `stopped` when the line after
   * them is not provably early (else it is cut off by the end of the bytes).
   */
  scan(buf: Buffer, n: number): { bytes: number; lines: number; stopped: boolean } {
    let pos = 0;
    let lines = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= n) return { bytes: pos, lines, stopped: n - pos > MAX_LINE_BYTES };
      const end = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - pos > MAX_LINE_BYTES || !this.early(buf, pos, end)) return { bytes: pos, lines, stopped: true };
      lines++;
      pos = nl + 1;
    }
  }

  private early(buf: Buffer, pos: number, end: number): boolean {
    let t: number | null;
    if (end - pos > RFC3164_STAMP && sameStamp(this.last, buf, pos)) {
      t = this.lastMs; // (only RFC 3164 stamps are remembered: an RFC 3339 one goes on past these bytes)
    } else if (locateTag(buf, pos, end, this.span) !== TAG_SYSLOG) return false;
    else {
      t = this.fast.timeOf(buf, pos, this.span, this.ctx);
      if (this.span.stamp === 1 && t !== null) {
        buf.copy(this.last, 0, pos, pos + RFC3164_STAMP);
        this.lastMs = t;
      }
    }
    return t !== null && t < this.beforeMs;
  }
}

/**
 * The run of lines from the start of a plain file that are dated before `beforeMs` (read as the engine reads
 * their stamps): its bytes and its lines. Stops at the first other line, and at a last line with no newline
 * (the file may still be growing).
 */
export function earlyLines(
  input: InputSpec,
  beforeMs: number,
  timezone: string | undefined,
  progress?: (fileBytes: number) => void,
): { bytes: number; lines: number } {
  const check = new StampCheck(beforeMs, input.mtimeMs, timezone);
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = input.fd ?? fs.openSync(input.path, 'r');
  let bytes = 0;
  let lines = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK_BYTES, bytes);
      const run = check.scan(buf, n);
      bytes += run.bytes;
      lines += run.lines;
      // (No whole line in a chunk: the end of the file, or a line longer than any the census reads.)
      if (run.stopped || run.bytes === 0) return { bytes, lines };
      progress?.(bytes);
    }
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/**
 * A .gz whose every line is dated before `beforeMs`: its inflated bytes and its lines; null when one is not, or
 * it cannot be read to its end (a truncated file: the census reads it and says so).
 */
export async function earlyInflated(
  input: InputSpec,
  beforeMs: number,
  timezone: string | undefined,
  progress?: (input: InputSpec, fileBytes: number) => void,
): Promise<{ bytes: number; lines: number } | null> {
  const check = new StampCheck(beforeMs, input.mtimeMs, timezone);
  const { raw, stream } = openInput(input, 1 << 20);
  let carry: Buffer | null = null;
  let bytes = 0;
  let lines = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
      const run = check.scan(buf, buf.length);
      if (run.stopped) return null;
      bytes += run.bytes;
      lines += run.lines;
      carry = run.bytes < buf.length ? buf.subarray(run.bytes) : null;
      progress?.(input, (raw as fs.ReadStream).bytesRead);
    }
  } catch {
    return null;
  } finally {
    raw.destroy();
  }
  // A last line without a newline is read by the census as a line: it must be early too.
  if (
    carry !== null &&
    (carry.length > MAX_LINE_BYTES || check.scan(Buffer.concat([carry, NEWLINE]), carry.length + 1).lines !== 1)
  ) {
    return null;
  }
  return { bytes: bytes + (carry?.length ?? 0), lines: lines + (carry === null ? 0 : 1) };
}
const NEWLINE = Buffer.from('\n');

/** Whether the line at buf[pos] starts with the stamp `last` (a byte loop: a native compare per line costs more). */
function sameStamp(last: Buffer, buf: Buffer, pos: number): boolean {
  for (let i = RFC3164_STAMP - 1; i >= 0; i--) if (last[i] !== buf[pos + i]) return false;
  return true;
}
