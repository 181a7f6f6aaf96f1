// Flags shared by the commands that read logs (DESIGN.md §1), and their validation: every bad value gives
// one line saying what is wrong and how to fix it.

import { type Command, Option } from 'commander';
import { type CensusView, MAX_SERVICES } from '../aggregate/census-view.js';
import type { CensusOptions } from '../census/census.js';
import type { SessionFilter } from '../census/session-filter.js';
import { DIALECTS } from '../dialects/registry.js';
import { CensusError } from '../model/errors.js';
import { serviceMatches } from '../model/types.js';
import { forTerminal } from '../render/sanitize.js';
import { type InputSpec, resolveInputs } from '../sources/resolve-inputs.js';

export interface CommonFlags {
  since?: string;
  until?: string;
  direction: string;
  excludeUnknown?: boolean;
  service?: string;
  mta: string;
  year?: string;
  timezone?: string;
  quiet?: boolean;
  color?: boolean;
  showUnparsed?: boolean;
  threads?: string;
}

/** The LOG argument of the commands that read the system mail log when given none. */
export const LOG_ARGUMENT =
  'log files, globs, directories of rotated logs, or - for stdin (default: the system mail log)';

export function addCommonOptions(cmd: Command, logArgument = LOG_ARGUMENT): Command {
  return cmd
    .argument('[log...]', logArgument)
    .option('--since <when>', 'only sessions at or after: 1h, 7d, 2w, 2026-11-01, 2026-11-01T08:00')
    .option('--until <when>', 'only sessions before (same forms as --since)')
    .addOption(
      new Option('--direction <dir>', 'inbound, outbound or both')
        .choices(['in', 'out', 'both', 'inbound', 'outbound'])
        .default('both'),
    )
    .option(
      '--exclude-unknown',
      'leave out clients without a verified name (unknown[ip]), as the classic one-liner did',
    )
    .option(
      '--service <list>',
      'only these services, comma-separated, as logged (smtpd, submission/smtpd, smtp, tlsproxy, …) or by master.cf name (submission = submission/smtpd)',
    )
    .option(
      '--mta <list>',
      `which log dialects to read: auto or a comma-separated list of ${DIALECTS.map((d) => d.id).join(', ')}`,
      'auto',
    )
    .option('--year <year>', 'year of the first line, for timestamps without one (default: from the file date)')
    .option('--timezone <zone>', 'zone of timestamps without one: local (default), UTC, +02:00, Europe/Berlin')
    .option('--show-unparsed', 'list samples of lines that looked relevant but did not parse, with file:line')
    .option(
      '--threads <n>',
      'threads to count with (default: one per core, at most 4, for 256 MiB of log or more, one less when most of it is .gz; 1 = no worker threads)',
    )
    .option('-q, --quiet', 'no progress or warnings on stderr')
    .option('--no-color', 'no colour even on a terminal (NO_COLOR is honoured too)');
}

/**
 * The times a window may name: from 1970 (no log is older; a day's slack, so that 1970-01-01 is one in every zone)
 * to the end of year 9999 (what dates print as).
 */
const EARLIEST_MS = -86_400_000;
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * `--since`/`--until`: `1h`, `7d`, `2w`, `30m` (before now) or an ISO date/time (local time when it has no zone).
 * A bare date is local midnight; `dateIn: 'utc'` makes it UTC midnight (trend, whose periods are UTC days).
 */
export function parseWhen(flag: string, text: string, nowMs: number, dateIn: 'local' | 'utc' = 'local'): number {
  const bad = (why: string) =>
    new CensusError('bad-time', `${flag} ${JSON.stringify(text)} ${why}`, {
      hint: `use a duration before now (30m, 1h, 7d, 2w) or a date (2026-11-01, 2026-11-01T08:00)`,
    });
  const inRange = (t: number) => {
    if (!(t >= EARLIEST_MS && t <= LATEST_MS)) throw bad('is not between 1970 and 9999');
    return t;
  };
  const rel = /^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$/i.exec(text.trim());
  if (rel) {
    const unit = rel[2]!.toLowerCase();
    const ms = { s: 1e3, m: 6e4, min: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[unit] ?? 0;
    return inRange(nowMs - Number(rel[1]) * ms);
  }
  // A date or a date and time: its fields must name one (2026-02-30 is not March 2nd).
  const fields = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?)?/.exec(text.trim());
  if (fields) {
    const [y, mo, d, h = 0, mi = 0, sec = 0] = fields.slice(1).map((f) => (f === undefined ? undefined : Number(f)));
    const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
    if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth || h! > 23 || mi! > 59 || sec! > 59) {
      throw bad('is not a date on the calendar');
    }
  }
  const date = /^(\d{4})-(\d\d)-(\d\d)$/.exec(text.trim());
  if (date) {
    const [y, m, d] = [Number(date[1]), Number(date[2]) - 1, Number(date[3])];
    return inRange(dateIn === 'utc' ? Date.UTC(y, m, d) : new Date(y, m, d).getTime());
  }
  if (/^\d{4}-\d\d-\d\d[T ]\d\d:\d\d/.test(text.trim())) {
    const t = Date.parse(text.trim().replace(' ', 'T'));
    if (!Number.isNaN(t)) return inRange(t);
  }
  throw bad('is not a time');
}

/** `--year`: four digits, 1970 to 9999 (years below 100 would be taken for 1900 and after by Date.UTC). */
export function parseYear(text: string): number {
  const year = Number(text);
  if (!/^\d{4}$/.test(text) || year < 1970) {
    throw new CensusError('bad-year', `--year ${JSON.stringify(text)} is not a year of mail logs`, {
      hint: 'give four digits from 1970 on, e.g. --year 2026',
    });
  }
  return year;
}

export interface ResolvedCommon {
  inputs: InputSpec[];
  census: CensusOptions;
  window: { sinceMs: number | null; untilMs: number | null };
  color: boolean;
  quiet: boolean;
  showUnparsed: boolean;
}

export function resolveCommon(logs: string[], flags: CommonFlags, nowMs = Date.now()): ResolvedCommon {
  const sinceMs = flags.since !== undefined ? parseWhen('--since', flags.since, nowMs) : null;
  const untilMs = flags.until !== undefined ? parseWhen('--until', flags.until, nowMs) : null;
  if (sinceMs !== null && untilMs !== null && untilMs <= sinceMs) {
    throw new CensusError('bad-window', '--until is not after --since', { hint: 'swap the two, or widen the window' });
  }
  const year = flags.year !== undefined ? parseYear(flags.year) : null;
  const direction = flags.direction.startsWith('in')
    ? 'inbound'
    : flags.direction.startsWith('out')
      ? 'outbound'
      : 'both';
  const filter: SessionFilter = {
    sinceMs,
    untilMs,
    direction,
    excludeUnknown: flags.excludeUnknown ?? false,
    services: flags.service ? splitList(flags.service) : null,
  };
  const census: CensusOptions = {
    filter,
    mta: splitList(flags.mta),
    year,
    maxSamples: flags.showUnparsed ? 50 : 20,
  };
  if (flags.timezone !== undefined) census.timezone = flags.timezone;
  if (flags.threads !== undefined) {
    const threads = Number(flags.threads);
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
      throw new CensusError('bad-threads', `--threads ${JSON.stringify(flags.threads)} is not a thread count`, {
        hint: 'give a whole number from 1 (no worker threads) to 64, e.g. --threads 2',
      });
    }
    census.threads = threads;
  }
  const quiet = flags.quiet ?? false;
  const color = (flags.color ?? true) && !process.env.NO_COLOR && process.stdout.isTTY === true;
  return {
    inputs: resolveInputs(logs),
    census,
    window: { sinceMs, untilMs },
    color,
    quiet,
    showUnparsed: flags.showUnparsed ?? false,
  };
}

function splitList(s: string): string[] {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** How `--service` names a service, for the notes that say a name matched nothing (report and the like, trend). */
export const SERVICE_NAMES =
  'a service is named as logged after the syslog name (smtpd, submission/smtpd, smtp, imap, …) or by its master.cf name (submission)';

/**
 * The `--service` names that matched no counted session, as a note: an all-zero report with no word of why left a
 * mail admin guessing (review: `--service submission`, before master.cf names were taken). The names seen are
 * those of the counted sessions (the view keeps no others), so a name is said to match nothing in the window.
 */
export function unmatchedServicesNote(
  common: ResolvedCommon,
  view: CensusView,
  servicesSeen: readonly string[],
): string | null {
  const names = common.census.filter?.services;
  if (!names || names.length === 0 || view.servicesFolded) return null;
  const missing = names.filter((name) => ![...view.services].some((s) => serviceMatches(s, new Set([name]))));
  if (missing.length === 0) return null;
  const seen =
    servicesSeen.length === 0
      ? 'the log has no session at all'
      : `the log's services: ${forTerminal(servicesSeen.join(', '))}${servicesSeen.length >= MAX_SERVICES ? ', …' : ''}`;
  return `note: --service ${forTerminal(missing.join(','))} matched no session${common.window.sinceMs !== null || common.window.untilMs !== null ? ' in the window' : ''}; ${SERVICE_NAMES}; ${seen}`;
}
