// line → Envelope, for every framing a mail log line arrives in (log-formats.md §1):
//   RFC 3164          `Nov  7 19:02:01 mx postfix/smtpd[1575]: text`   (space-padded day)
//   maillog_file      `Nov 07 19:02:01 mx postfix/smtpd[1575]: text`   (Postfix postlogd, zero-padded day)
//   Dovecot log_path  `Nov 27 18:59:59 imap-login: Info: text`          (no host field)
//   RFC 3339          `2025-11-27T14:34:36.871935+03:00 mail postfix/smtpd[137233]: text` (rsyslog, Debian 12)
//   Exim mainlog      `2026-11-27 18:59:01 [pid] text`                  (program reported as `exim`)
//   journald JSON     `{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":…}` (journalctl -o json)
// plus an optional `<PRI>` and a docker `--timestamps` prefix. Never throws: unparseable → null.

import type { Envelope } from '../model/types.js';
import { MONTHS, type WallClock, type YearResolver } from './clock.js';

export interface EnvelopeContext {
  clock: WallClock;
  years: YearResolver;
}

const RFC3164 = /^([A-Z][a-z]{2}) ([ 0-3]?\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)? (.*)$/;
const ISO = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)? (.*)$/;
const EXIM = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d{3})?(?: ([+-]\d{4}))? (?:\[(\d+)\] )?(.*)$/;
/** Program names given to lines that have no syslog tag: `#` header lines and CSV records (Exchange). */
export const HEADER_PROGRAM = '#header';
export const CSV_PROGRAM = '#csv';
/** W3C-style log headers (Exchange protocol logs, log-formats.md §7); other `#` lines are comments. */
export const HEADER_LINE = /^#(?:Software|Version|Log-type|Date|Fields): /;
const CSV_RECORD = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z,/;
const TAG = /^([^\s[\]:]+)(?:\[(\d+)\])?:$/;
const DOCKER_PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z (?=[A-Z0-9{<])/;

export function parseEnvelope(line: string, ctx: EnvelopeContext): Envelope | null {
  let text = line;
  if (text.charCodeAt(0) === 60 /* < */) {
    const m = /^<\d{1,3}>(?:1 )?/.exec(text);
    if (m) text = text.slice(m[0].length);
  }
  const first = text.charCodeAt(0);
  if (first === 123 /* { */) return parseJournalJson(text);
  if (first === 35 /* # */) {
    return HEADER_LINE.test(text)
      ? { timeMs: null, host: null, program: HEADER_PROGRAM, pid: null, message: text }
      : null;
  }
  if (first >= 48 && first <= 57) {
    const docker = DOCKER_PREFIX.exec(text);
    if (docker && docker[0].length < text.length) {
      const inner = parseEnvelope(text.slice(docker[0].length), ctx);
      if (inner) return inner;
    }
    return parseIso(text, ctx) ?? parseExim(text, ctx) ?? parseCsvRecord(text);
  }
  return parseRfc3164(text, ctx);
}

function parseRfc3164(text: string, ctx: EnvelopeContext): Envelope | null {
  const m = RFC3164.exec(text);
  if (!m) return null;
  const month = MONTHS[m[1]!];
  if (month === undefined) return null;
  const day = Number(m[2]);
  const year = ctx.years.yearFor(month);
  const timeMs = ctx.clock.toEpochMs(year, month, day, Number(m[3]), Number(m[4]), Number(m[5]));
  return splitHostTag(m[6]!, timeMs);
}

function parseIso(text: string, ctx: EnvelopeContext): Envelope | null {
  const m = ISO.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fractionMs = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const zone = m[8];
  let timeMs: number;
  if (zone === undefined) timeMs = ctx.clock.toEpochMs(y, mo - 1, d, h, mi, s);
  else timeMs = Date.UTC(y, mo - 1, d, h, mi, s) - zoneOffsetMs(zone);
  return splitHostTag(m[9]!, timeMs + fractionMs);
}

function parseExim(text: string, ctx: EnvelopeContext): Envelope | null {
  const m = EXIM.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fractionMs = m[7] ? Number(m[7].slice(1)) : 0;
  const zone = m[8];
  const timeMs =
    zone === undefined
      ? ctx.clock.toEpochMs(y, mo - 1, d, h, mi, s)
      : Date.UTC(y, mo - 1, d, h, mi, s) - zoneOffsetMs(zone);
  return { timeMs: timeMs + fractionMs, host: null, program: 'exim', pid: m[9] ? Number(m[9]) : null, message: m[10]! };
}

/** A CSV record that starts with an ISO UTC time (Exchange protocol logs, log-formats.md §7). */
function parseCsvRecord(text: string): Envelope | null {
  const m = CSV_RECORD.exec(text);
  if (!m) return null;
  const fractionMs = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const timeMs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + fractionMs;
  return { timeMs, host: null, program: CSV_PROGRAM, pid: null, message: text };
}

function zoneOffsetMs(zone: string): number {
  if (zone === 'Z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

/** `host prog[pid]: text`, or `prog[pid]: text` when the writer put no host (Dovecot's own log file). */
function splitHostTag(rest: string, timeMs: number): Envelope | null {
  const sp1 = rest.indexOf(' ');
  if (sp1 <= 0) return null;
  const firstToken = rest.slice(0, sp1);
  const asTag = TAG.exec(firstToken);
  if (asTag) {
    return {
      timeMs,
      host: null,
      program: asTag[1]!,
      pid: asTag[2] ? Number(asTag[2]) : null,
      message: rest.slice(sp1 + 1),
    };
  }
  const sp2 = rest.indexOf(' ', sp1 + 1);
  const tagToken = sp2 < 0 ? rest.slice(sp1 + 1) : rest.slice(sp1 + 1, sp2);
  const tag = TAG.exec(tagToken);
  if (!tag) return null;
  return {
    timeMs,
    host: firstToken,
    program: tag[1]!,
    pid: tag[2] ? Number(tag[2]) : null,
    message: sp2 < 0 ? '' : rest.slice(sp2 + 1),
  };
}

/**
 * One `journalctl -o json` entry (systemd.io/JOURNAL_EXPORT_FORMATS): every value a string; a binary or
 * non-UTF-8 field is an array of byte values; a repeated field is an array of values.
 */
export function parseJournalJson(text: string): Envelope | null {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return null;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
  const rec = obj as Record<string, unknown>;
  const message = journalField(rec.MESSAGE);
  if (message === null) return null;
  const program = journalField(rec.SYSLOG_IDENTIFIER) ?? journalField(rec._COMM) ?? '';
  const pidText = journalField(rec.SYSLOG_PID) ?? journalField(rec._PID);
  const pid = pidText !== null && /^\d+$/.test(pidText) ? Number(pidText) : null;
  const usText = journalField(rec.__REALTIME_TIMESTAMP) ?? journalField(rec._SOURCE_REALTIME_TIMESTAMP);
  const timeMs = usText !== null && /^\d+$/.test(usText) ? Math.floor(Number(usText) / 1000) : null;
  return { timeMs, host: journalField(rec._HOSTNAME), program, pid, message };
}

function journalField(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((b) => typeof b === 'number' && b >= 0 && b <= 255 && Number.isInteger(b))) {
      return Buffer.from(v as number[]).toString('utf8');
    }
    const firstString = v.find((x) => typeof x === 'string');
    return typeof firstString === 'string' ? firstString : null;
  }
  return null;
}
