// The hot path's first look at a line: which program wrote it, found by scanning bytes, without decoding
// the line or running a regex. It must agree with parseEnvelope's `program` on every line it answers
// (a property test checks this); it returns null when the shape is unusual, and the caller then decodes.

import { CSV_PROGRAM } from './parse-envelope.js';

const SPACE = 32;
const COLON = 58;
const LBRACKET = 91;
const RBRACKET = 93;

/** What `locateTag` found. */
export const TAG_UNSURE = 0;
/** A syslog tag: its name is buf[nameStart, nameEnd). */
export const TAG_SYSLOG = 1;
/** An Exim mainlog line (program `exim`). */
export const TAG_EXIM = 2;
export const TAG_CSV = 3;

/** Where the parts of a syslog-framed line are (filled by `locateTag` for TAG_SYSLOG). */
export interface TagSpan {
  /** 1: RFC 3164 stamp (16 bytes with its space), 2: RFC 3339 stamp (ends at `stampEnd`, a space). */
  stamp: number;
  stampEnd: number;
  /** The host field, or -1 when the line has none (Dovecot's own log file). */
  hostStart: number;
  hostEnd: number;
  nameStart: number;
  nameEnd: number;
  /** A hash of the name's bytes (FNV-1a), for caches keyed by them. */
  nameHash: number;
  /** The space after the tag's colon; the message starts after it. */
  tagSpace: number;
}

export function newTagSpan(): TagSpan {
  return { stamp: 0, stampEnd: 0, hostStart: -1, hostEnd: -1, nameStart: 0, nameEnd: 0, nameHash: 0, tagSpace: 0 };
}

/**
 * Finds the program of the line in buf[start, end) without decoding it: TAG_SYSLOG (with `span` filled in),
 * TAG_EXIM, TAG_CSV, or TAG_UNSURE when the shape is unusual.
 */
export function locateTag(buf: Buffer, start: number, end: number, span: TagSpan): number {
  if (end - start < 16) return TAG_UNSURE;
  const c = buf[start]!;
  if (c >= 65 && c <= 90) {
    // RFC 3164 / maillog_file: `Mmm dd HH:MM:SS ` is 16 bytes (rsyslog may add fractions: then be unsure).
    if (buf[start + 15] !== SPACE || buf[start + 3] !== SPACE || buf[start + 9] !== COLON) return TAG_UNSURE;
    span.stamp = 1;
    span.stampEnd = start + 15;
    return hostThenTag(buf, start + 16, end, span);
  }
  if (c >= 48 && c <= 57) {
    const b10 = buf[start + 10];
    if (b10 === SPACE) return buf[start + 13] === COLON ? TAG_EXIM : TAG_UNSURE;
    if (b10 !== 84 /* T */) return TAG_UNSURE;
    // The first space and comma after the seconds, within the line and the 41 bytes a stamp can take (scanned here: a
    // native indexOf per line costs more). Never past the line's end: what follows it depends on where a chunk
    // ends, and a comma of the next line made a short line Exchange CSV in one read and not in another.
    let sp = -1;
    let comma = -1;
    const stop = Math.min(end, start + 41);
    for (let i = start + 19; i < stop; i++) {
      const b = buf[i];
      if (b === SPACE) {
        sp = i;
        break;
      }
      if (b === 44 && comma < 0) comma = i;
    }
    if (comma >= 0 && (sp < 0 || comma < sp) && comma < start + 40) return TAG_CSV;
    if (sp < 0 || sp > start + 40 || sp >= end) return TAG_UNSURE;
    const after = buf[sp + 1]!;
    if (after >= 48 && after <= 57) return TAG_UNSURE; // docker --timestamps prefix: decode the slow way
    span.stamp = 2;
    span.stampEnd = sp;
    return hostThenTag(buf, sp + 1, end, span);
  }
  if (c === 35 /* # */) return TAG_UNSURE; // rare: let parseEnvelope tell a log header from a comment
  return TAG_UNSURE;
}

/** The program tag of the line in buf[start, end), `exim` for Exim mainlog lines, or null if unsure. */
export function locateProgram(buf: Buffer, start: number, end: number): string | null {
  const span = newTagSpan();
  switch (locateTag(buf, start, end, span)) {
    case TAG_SYSLOG:
      return buf.toString('utf8', span.nameStart, span.nameEnd);
    case TAG_EXIM:
      return 'exim';
    case TAG_CSV:
      return CSV_PROGRAM;
    default:
      return null;
  }
}

/** The first space in buf[from, end), or -1. */
function spaceBefore(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === SPACE) return i;
  return -1;
}

function hostThenTag(buf: Buffer, from: number, end: number, span: TagSpan): number {
  const sp = spaceBefore(buf, from, end);
  if (sp < 0) return TAG_UNSURE;
  // `prog[pid]:` or `prog:` directly after the time: no host field (Dovecot's own log file).
  if (buf[sp - 1] === COLON) {
    span.hostStart = -1;
    span.hostEnd = -1;
    span.tagSpace = sp;
    return tagName(buf, from, sp - 1, span);
  }
  const sp2 = spaceBefore(buf, sp + 1, end);
  if (sp2 < 0 || buf[sp2 - 1] !== COLON) return TAG_UNSURE;
  span.hostStart = from;
  span.hostEnd = sp;
  span.tagSpace = sp2;
  return tagName(buf, sp + 1, sp2 - 1, span);
}

function tagName(buf: Buffer, from: number, colon: number, span: TagSpan): number {
  let stop = colon;
  if (buf[colon - 1] === RBRACKET) {
    let lb = colon - 2;
    while (lb >= from && buf[lb] !== LBRACKET) lb--;
    if (lb < from) return TAG_UNSURE;
    stop = lb;
  }
  if (stop <= from) return TAG_UNSURE;
  // Names with brackets or colons are not tags to parseEnvelope either: let the slow path decide.
  let h = 0x811c9dc5;
  for (let i = from; i < stop; i++) {
    const b = buf[i]!;
    if (b === LBRACKET || b === RBRACKET || b === COLON) return TAG_UNSURE;
    h = Math.imul(h ^ b, 16777619);
  }
  span.nameHash = h;
  span.nameStart = from;
  span.nameEnd = stop;
  return TAG_SYSLOG;
}
