// The envelope of a common line straight from its bytes: RFC 3164 / maillog_file and RFC 3339 stamps with a
// plain `host prog[pid]: ` framing, as located by `locateTag`. The result equals parseEnvelope's on the decoded
// line (a property test checks this); whenever the bytes do not prove the common shape, `build` returns null
// and the caller decodes and parses the slow way. It saves the regexes, the decoding of the stamp and framing,
// and the strings for host and program (cached by bytes).

import type { Envelope } from '../model/types.js';
import type { TagSpan } from './locate-program.js';
import type { EnvelopeContext } from './parse-envelope.js';

/** Buffer#utf8Slice: what toString('utf8', …) calls after checking its arguments (measurably slower per line). */
export interface Utf8Slicer {
  utf8Slice(start: number, end: number): string;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const MAX_CACHED_HOSTS = 1024;

/** `Jan` … `Dec` as the three bytes packed into one number → month 0–11. */
const MONTH_CODES = new Map<number, number>(
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map((m, i) => [
    (m.charCodeAt(0) << 16) | (m.charCodeAt(1) << 8) | m.charCodeAt(2),
    i,
  ]),
);

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 48 && b <= 57;
}

/** Two ASCII digits at buf[i], or -1. */
function twoDigits(buf: Buffer, i: number): number {
  const a = buf[i]!;
  const b = buf[i + 1]!;
  if (a < 48 || a > 57 || b < 48 || b > 57) return -1;
  return (a - 48) * 10 + (b - 48);
}

export class FastEnvelope {
  private readonly hosts = new Map<number, { bytes: Buffer; text: string }[]>();
  private hostCount = 0;
  private lastHostBytes: Buffer | null = null;
  private lastHost = '';
  private utcKey = -1;
  private utcBase = 0;

  /**
   * The envelope of buf[start, end) located as a syslog line (`span`) written by `program`, or null when the
   * caller must parse the decoded line. The caller has made sure the line holds no `\r` and no byte 0xE2
   * (U+2028/U+2029 start with it): they end a regex `.`, so parseEnvelope rejects such lines.
   */
  build(
    buf: Buffer,
    start: number,
    end: number,
    span: TagSpan,
    program: string,
    ctx: EnvelopeContext,
  ): Envelope | null {
    // Host and tag first: they decide whether the fast path applies before any state (year inference) moves.
    let host: string | null = null;
    if (span.hostStart >= 0) {
      if (span.hostEnd <= span.hostStart) return null; // empty host: parseEnvelope rejects the line
      host = this.hostText(buf, span.hostStart, span.hostEnd);
    }
    const pid = tagPid(buf, span.nameStart, span.nameEnd, span.tagSpace);
    if (pid === -2) return null;
    let timeMs: number;
    if (span.stamp === 1) {
      const t = this.rfc3164(buf, start, ctx);
      if (t === null) return null;
      timeMs = t;
    } else {
      const t = this.rfc3339(buf, start, span.stampEnd, ctx);
      if (t === null) return null;
      timeMs = t;
    }
    return {
      timeMs,
      host,
      program,
      pid: pid === -1 ? null : pid,
      message: (buf as unknown as Utf8Slicer).utf8Slice(span.tagSpace + 1, end),
    };
  }

  /**
   * The time of the line at buf[start] located as a syslog line (`span`), as `build` reads it, or null when
   * `build` would not read it (then the line's time, if any, is parseEnvelope's to find).
   */
  timeOf(buf: Buffer, start: number, span: TagSpan, ctx: EnvelopeContext): number | null {
    return span.stamp === 1 ? this.rfc3164(buf, start, ctx) : this.rfc3339(buf, start, span.stampEnd, ctx);
  }

  /** `Mmm dd HH:MM:SS` at buf[start] (its space at +15 already checked by locateTag). */
  private rfc3164(buf: Buffer, start: number, ctx: EnvelopeContext): number | null {
    const month = MONTH_CODES.get((buf[start]! << 16) | (buf[start + 1]! << 8) | buf[start + 2]!);
    if (month === undefined) return null;
    const d0 = buf[start + 4]!;
    if (!(d0 === 32 || (d0 >= 48 && d0 <= 51)) || !isDigit(buf[start + 5]) || buf[start + 6] !== 32) return null;
    const day = (d0 === 32 ? 0 : d0 - 48) * 10 + (buf[start + 5]! - 48);
    const hour = twoDigits(buf, start + 7);
    const minute = twoDigits(buf, start + 10);
    const second = twoDigits(buf, start + 13);
    if (hour < 0 || minute < 0 || second < 0 || buf[start + 12] !== 58) return null;
    const year = ctx.years.yearFor(month);
    return ctx.clock.toEpochMs(year, month, day, hour, minute, second);
  }

  /** `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH[:]MM]` from buf[start] to the space at `stampEnd`. */
  private rfc3339(buf: Buffer, start: number, stampEnd: number, ctx: EnvelopeContext): number | null {
    const y1 = twoDigits(buf, start);
    const y2 = twoDigits(buf, start + 2);
    const month = twoDigits(buf, start + 5);
    const day = twoDigits(buf, start + 8);
    const hour = twoDigits(buf, start + 11);
    const minute = twoDigits(buf, start + 14);
    const second = twoDigits(buf, start + 17);
    if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return null;
    if (buf[start + 4] !== 45 || buf[start + 7] !== 45 || buf[start + 13] !== 58 || buf[start + 16] !== 58) {
      return null;
    }
    const year = y1 * 100 + y2;
    let p = start + 19;
    let fractionMs = 0;
    if (buf[p] === 46 /* . */) {
      let digits = 0;
      let value = 0;
      p++;
      while (isDigit(buf[p])) {
        value = value * 10 + (buf[p]! - 48);
        digits++;
        p++;
      }
      // parseEnvelope: Math.floor(Number(`0.${digits}`) * 1000); the division rounds the same rational the same
      // (correctly rounded) way as the string conversion, as long as both operands are exact.
      if (digits === 0 || digits >= POW10.length) return null;
      fractionMs = Math.floor((value / POW10[digits]!) * 1000);
    }
    let offsetMs: number | null = null;
    const z = buf[p];
    if (z === 90 /* Z */) {
      // A docker `--timestamps` prefix looks the same: parseEnvelope tries that reading first.
      const after = buf[stampEnd + 1];
      if (after === 123 || after === 60 || (after !== undefined && after >= 65 && after <= 90)) return null;
      offsetMs = 0;
      p++;
    } else if (z === 43 || z === 45) {
      const hh = twoDigits(buf, p + 1);
      let q = p + 3;
      if (buf[q] === 58) q++;
      const mm = twoDigits(buf, q);
      if (hh < 0 || mm < 0) return null;
      offsetMs = (z === 45 ? -1 : 1) * (hh * 60 + mm) * 60_000;
      p = q + 2;
    }
    if (p !== stampEnd) return null;
    if (offsetMs === null) return ctx.clock.toEpochMs(year, month - 1, day, hour, minute, second) + fractionMs;
    // Date.UTC is linear in minutes and seconds: cache the hour's base (lines come in runs of one hour).
    const key = ((year * 100 + month) * 100 + day) * 100 + hour;
    if (key !== this.utcKey) {
      this.utcKey = key;
      this.utcBase = Date.UTC(year, month - 1, day, hour, 0, 0);
    }
    return this.utcBase + minute * 60_000 + second * 1000 - offsetMs + fractionMs;
  }

  private hostText(buf: Buffer, start: number, end: number): string {
    const last = this.lastHostBytes;
    if (last !== null && sameBytes(last, buf, start, end)) return this.lastHost;
    let h = end - start;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 16777619);
    let bucket = this.hosts.get(h);
    let hit = bucket?.find((x) => sameBytes(x.bytes, buf, start, end));
    if (hit === undefined) {
      if (this.hostCount >= MAX_CACHED_HOSTS) {
        this.hosts.clear();
        this.hostCount = 0;
        bucket = undefined;
      }
      hit = { bytes: Buffer.from(buf.subarray(start, end)), text: buf.toString('utf8', start, end) };
      if (bucket === undefined) this.hosts.set(h, [hit]);
      else bucket.push(hit);
      this.hostCount++;
    }
    this.lastHostBytes = hit.bytes;
    this.lastHost = hit.text;
    return hit.text;
  }
}

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

/**
 * The tag `name[pid]:` (or `name:`) from nameStart to the colon before `tagSpace`, checked the way
 * parseEnvelope's TAG regex reads it: the pid, -1 for none, or -2 when the fast path does not apply (a name
 * byte outside printable ASCII, non-digits in the brackets, a pid too long to add up exactly).
 */
function tagPid(buf: Buffer, nameStart: number, nameEnd: number, tagSpace: number): number {
  for (let i = nameStart; i < nameEnd; i++) {
    const b = buf[i]!;
    if (b <= 32 || b >= 127) return -2;
  }
  const colon = tagSpace - 1;
  if (nameEnd === colon) return -1;
  if (buf[nameEnd] !== 91 || buf[colon - 1] !== 93) return -2;
  const first = nameEnd + 1;
  const last = colon - 1;
  if (last <= first || last - first > 15) return -2;
  let pid = 0;
  for (let i = first; i < last; i++) {
    const b = buf[i]!;
    if (b < 48 || b > 57) return -2;
    pid = pid * 10 + (b - 48);
  }
  return pid;
}
