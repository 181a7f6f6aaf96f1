// Turning wall-clock fields into instants. RFC 3164 and Postfix maillog_file timestamps have no year and
// no zone (log-formats.md §1): the year comes from --year or from the file's mtime, the zone from
// --timezone (default: this machine's local zone, which is what syslog wrote them in).

import { CensusError } from '../model/errors.js';

export const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

export type Zone =
  | { kind: 'local' }
  | { kind: 'fixed'; offsetMs: number }
  | { kind: 'iana'; name: string; formatter: Intl.DateTimeFormat };

export function parseZone(spec: string | undefined): Zone {
  if (spec === undefined || spec === '' || spec === 'local') return { kind: 'local' };
  if (/^(utc|gmt|z)$/i.test(spec)) return { kind: 'fixed', offsetMs: 0 };
  // Real offsets run from -12:00 to +14:00; minutes are minutes.
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(spec);
  const minutes = m ? Number(m[2]) * 60 + Number(m[3]) : 0;
  if (m && Number(m[3]) < 60 && minutes <= (m[1] === '-' ? 12 : 14) * 60) {
    return { kind: 'fixed', offsetMs: (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 };
  }
  if (m) {
    throw new CensusError('bad-timezone', `time zone offset out of range: ${spec}`, {
      hint: 'offsets run from -12:00 to +14:00, e.g. --timezone +02:00',
    });
  }
  try {
    const formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: spec,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    return { kind: 'iana', name: spec, formatter };
  } catch {
    throw new CensusError('bad-timezone', `unknown time zone: ${spec}`, {
      hint: 'use local, UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin',
    });
  }
}

/** The zone's offset from UTC (ms) at a given instant, for IANA zones. */
function ianaOffsetMs(formatter: Intl.DateTimeFormat, utcMs: number): number {
  const parts = formatter.formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * Wall-clock fields → epoch ms in a zone. The hour's base is cached: lines come in runs of the same hour,
 * and Date/Intl calls cost far more than the parse.
 */
export class WallClock {
  private cacheKey = -1;
  private cacheBase = 0;

  constructor(readonly zone: Zone) {}

  toEpochMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
    // One key per field tuple, also for the impossible dates a byte-read stamp may hold (`Feb 31`, month 98, hour
    // 99): Date normalizes them, and a key shared by `Feb 31` and `Mar 0` dated a line by whichever came first.
    const key = ((year * 128 + (month + 1)) * 128 + day) * 128 + hour;
    if (key !== this.cacheKey) {
      this.cacheKey = key;
      this.cacheBase = this.hourBase(year, month, day, hour);
    }
    return this.cacheBase + minute * 60_000 + second * 1000;
  }

  private hourBase(year: number, month: number, day: number, hour: number): number {
    const z = this.zone;
    if (z.kind === 'local') return new Date(year, month, day, hour, 0, 0).getTime();
    const naive = Date.UTC(year, month, day, hour, 0, 0);
    if (z.kind === 'fixed') return naive - z.offsetMs;
    // Two passes settle the offset except inside a DST gap, where any answer is a guess.
    let guess = naive - ianaOffsetMs(z.formatter, naive);
    guess = naive - ianaOffsetMs(z.formatter, guess);
    return guess;
  }
}

/**
 * Supplies the year for timestamps that lack one.
 * - With --year Y: the first line is in Y, and the year advances when the month goes backwards (Dec → Jan); a
 *   Dec line among the first Jan lines after that is a late line of the year before.
 * - Otherwise from a reference instant (the file's mtime, or now for stdin): the last line was written at or
 *   before it, so a month later than the reference month belongs to the previous year. This needs no state
 *   and so also works on byte ranges read in parallel.
 */
export class YearResolver {
  private year: number;
  private lastMonth = -1;
  /** The year has just turned (Dec → Jan), and no line of another month came since. */
  private justTurned = false;
  private readonly refYear: number;
  private readonly refMonth: number;

  constructor(
    private readonly fixedYear: number | null,
    referenceMs: number,
  ) {
    const ref = new Date(referenceMs);
    this.refYear = ref.getFullYear();
    this.refMonth = ref.getMonth();
    this.year = fixedYear ?? this.refYear;
  }

  yearFor(month: number): number {
    if (this.fixedYear === null) return month > this.refMonth ? this.refYear - 1 : this.refYear;
    if (this.justTurned && month === 11 && this.lastMonth === 0) {
      // A Dec line written out of order among the first Jan lines of a new year (syslog's lines of one second are
      // not always in order): the year before, and the year goes on (a review: it took Dec 31 for the new year,
      // and the next Jan 1 line for the year after that). Only then: a log may skip months, even six of them.
      return this.year - 1;
    }
    if (this.lastMonth >= 0 && month < this.lastMonth && this.lastMonth - month >= 6) {
      this.year++;
      this.justTurned = true;
    } else if (month !== this.lastMonth) this.justTurned = false;
    this.lastMonth = month;
    return this.year;
  }
}
