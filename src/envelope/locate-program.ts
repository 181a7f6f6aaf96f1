// The hot path's first look at a line: which program wrote it, found by scanning bytes, without decoding
// the line or running a regex. It must agree with parseEnvelope's `program` on every line it answers
// (a property test checks this); it returns null when the shape is unusual, and the caller then decodes.

import { CSV_PROGRAM } from './parse-envelope.js';

const SPACE = 32;
const COLON = 58;
const LBRACKET = 91;

/** The program tag of the line in buf[start, end), `exim` for Exim mainlog lines, or null if unsure. */
export function locateProgram(buf: Buffer, start: number, end: number): string | null {
  if (end - start < 16) return null;
  const c = buf[start]!;
  if (c >= 65 && c <= 90) {
    // RFC 3164 / maillog_file: `Mmm dd HH:MM:SS ` is 16 bytes (rsyslog may add fractions: then be unsure).
    if (buf[start + 15] !== SPACE || buf[start + 3] !== SPACE || buf[start + 9] !== COLON) return null;
    return hostThenTag(buf, start + 16, end);
  }
  if (c >= 48 && c <= 57) {
    const b10 = buf[start + 10];
    if (b10 === SPACE) return buf[start + 13] === COLON ? 'exim' : null;
    if (b10 !== 84 /* T */) return null;
    const sp = buf.indexOf(SPACE, start + 19);
    const comma = buf.indexOf(44, start + 19);
    if (comma >= 0 && (sp < 0 || comma < sp) && comma < start + 40) return CSV_PROGRAM;
    if (sp < 0 || sp > start + 40 || sp >= end) return null;
    const after = buf[sp + 1]!;
    if (after >= 48 && after <= 57) return null; // docker --timestamps prefix: decode the slow way
    return hostThenTag(buf, sp + 1, end);
  }
  if (c === 35 /* # */) return null; // rare: let parseEnvelope tell a log header from a comment
  return null;
}

function hostThenTag(buf: Buffer, from: number, end: number): string | null {
  const sp = buf.indexOf(SPACE, from);
  if (sp < 0 || sp >= end) return null;
  // `prog[pid]:` or `prog:` directly after the time: no host field (Dovecot's own log file).
  if (buf[sp - 1] === COLON) return tagName(buf, from, sp - 1);
  const sp2 = buf.indexOf(SPACE, sp + 1);
  if (sp2 < 0 || sp2 >= end || buf[sp2 - 1] !== COLON) return null;
  return tagName(buf, sp + 1, sp2 - 1);
}

function tagName(buf: Buffer, from: number, colon: number): string | null {
  let stop = colon;
  if (buf[colon - 1] === 93 /* ] */) {
    const lb = buf.lastIndexOf(LBRACKET, colon - 1);
    if (lb < from) return null;
    stop = lb;
  }
  if (stop <= from) return null;
  // Names with brackets or colons are not tags to parseEnvelope either: let the slow path decide.
  for (let i = from; i < stop; i++) {
    const b = buf[i];
    if (b === LBRACKET || b === 93 || b === COLON) return null;
  }
  return buf.toString('latin1', from, stop);
}
