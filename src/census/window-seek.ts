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
// Not with `--year` (a line's year then depends on the lines before it), `--history` (it records every session,
// in the window or not) or a tap on the sessions; not into standard input or a .gz (a .gz cannot be entered
// midway, and proving a whole one early means inflating it): skipping stops there.

import fs from 'node:fs';
import { parseZone, WallClock, YearResolver } from '../envelope/clock.js';
import { FastEnvelope } from '../envelope/fast-envelope.js';
import { locateTag, newTagSpan, TAG_SYSLOG } from '../envelope/locate-program.js';
import { isGzipInput } from '../sources/read-lines.js';
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
export function seekWindow(
  inputs: readonly InputSpec[],
  sinceMs: number,
  timezone: string | undefined,
  warmupMs: number,
  progress?: (input: InputSpec, fileBytes: number) => void,
): WindowSeek | null {
  const before = sinceMs - warmupMs;
  const skipped: SkippedPart[] = [];
  let i = 0;
  for (; i < inputs.length; i++) {
    const input = inputs[i]!;
    if (input.path === '-' || input.sizeBytes === null || input.startAt !== undefined || isGzipInput(input)) break;
    const early = earlyLines(input, before, timezone, progress && ((bytes) => progress(input, bytes)));
    if (early.bytes === 0) break;
    const whole = early.bytes === input.sizeBytes;
    skipped.push({ input, bytes: early.bytes, lines: early.lines, whole });
    if (!whole) {
      const rest = [{ ...input, startAt: { byte: early.bytes, line: early.lines } }, ...inputs.slice(i + 1)];
      return { inputs: rest, skipped };
    }
  }
  return skipped.length === 0 ? null : { inputs: inputs.slice(i), skipped };
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
  const ctx = {
    clock: new WallClock(parseZone(timezone)),
    years: new YearResolver(null, input.mtimeMs ?? Date.now()),
  };
  const fast = new FastEnvelope();
  const span = newTagSpan();
  /** The last stamp read and its time: most lines share their second with the line before. */
  const last = Buffer.alloc(RFC3164_STAMP);
  let lastMs = Number.NaN;
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const fd = input.fd ?? fs.openSync(input.path, 'r');
  let bytes = 0;
  let lines = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK_BYTES, bytes);
      let pos = 0;
      for (;;) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0 || nl >= n) break;
        const end = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
        if (end - pos > MAX_LINE_BYTES) return { bytes, lines };
        let t: number | null;
        if (end - pos > RFC3164_STAMP && sameStamp(last, buf, pos)) {
          t = lastMs; // (only RFC 3164 stamps are remembered: an RFC 3339 one goes on past these bytes)
        } else if (locateTag(buf, pos, end, span) !== TAG_SYSLOG) return { bytes, lines };
        else {
          t = fast.timeOf(buf, pos, span, ctx);
          if (span.stamp === 1 && t !== null) {
            buf.copy(last, 0, pos, pos + RFC3164_STAMP);
            lastMs = t;
          }
        }
        if (t === null || !(t < beforeMs)) return { bytes, lines };
        bytes += nl + 1 - pos;
        lines++;
        pos = nl + 1;
      }
      // No whole line left in the chunk: the next read starts at the first byte not yet skipped.
      if (pos === 0) return { bytes, lines };
      progress?.(bytes);
    }
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/** Whether the line at buf[pos] starts with the stamp `last` (a byte loop: a native compare per line costs more). */
function sameStamp(last: Buffer, buf: Buffer, pos: number): boolean {
  for (let i = RFC3164_STAMP - 1; i >= 0; i--) if (last[i] !== buf[pos + i]) return false;
  return true;
}
