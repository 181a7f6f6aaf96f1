// `tlscensus trend --history FILE`: what the history recorded by `report --history` and `watch --history` says
// over time, one row per day, week or month.

import { type Command, Option } from 'commander';
import { HistoryStore } from '../history/history-store.js';
import type { Section } from '../history/hour-buckets.js';
import { alignWindow, buildTrend, chooseBy, type TrendBy } from '../history/trend.js';
import { CensusError, EXIT, type ExitCode } from '../model/errors.js';
import { forTerminal } from '../render/sanitize.js';
import { renderTrend, TREND_FORMATS } from '../render/trend-output.js';
import { parseWhen, SERVICE_NAMES } from './common-options.js';
import type { Io } from './io.js';

interface TrendFlags {
  history: string;
  /** Not given: DEFAULT_SINCE. */
  since?: string;
  until?: string;
  by: string;
  direction: string;
  service?: string;
  source?: string;
  format: string;
  color?: boolean;
}

const DEFAULT_SINCE = '90d';

export function registerTrend(program: Command, io: Io): void {
  program
    .command('trend')
    .description('the recorded history over time: TLS share, legacy share, failures, plaintext per day, week or month')
    .requiredOption('--history <file>', 'the history file that report --history or watch --history record into')
    .option('--since <when>', `start of the window: 90d, 12w, 2026-09-01 (default: ${DEFAULT_SINCE})`)
    .option('--until <when>', 'end of the window (default: now)')
    .addOption(
      new Option('--by <period>', 'one row per UTC day, ISO week or month (auto: by the window length)')
        .choices(['auto', 'day', 'week', 'month'])
        .default('auto'),
    )
    .addOption(
      new Option('--direction <dir>', 'inbound, outbound, both (and IMAP/POP3 when recorded), or mailbox')
        .choices(['in', 'out', 'both', 'inbound', 'outbound', 'mailbox'])
        .default('both'),
    )
    .option(
      '--service <list>',
      'only these services, comma-separated, as logged (smtpd, submission/smtpd, smtp, …) or by master.cf name (submission)',
    )
    .option('--source <name>', 'only this --history-source (default: all of them, summed)')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...TREND_FORMATS]).default('table'))
    .option('--no-color', 'no colour even on a terminal (NO_COLOR is honoured too)')
    .action((flags: TrendFlags) => {
      io.setExit(runTrend(flags, io));
    });
}

function sectionsOf(direction: string): Section[] {
  if (direction.startsWith('in')) return ['inbound'];
  if (direction.startsWith('out')) return ['outbound'];
  if (direction === 'mailbox') return ['mailbox'];
  return ['inbound', 'outbound', 'mailbox'];
}

export function runTrend(flags: TrendFlags, io: Io, nowMs = Date.now()): ExitCode {
  // A bare date is a UTC day, as trend's periods are (a review: in Tokyo, --since 2026-11-21 showed Nov 20's row,
  // widened to the UTC day around local midnight).
  const since = flags.since ?? DEFAULT_SINCE;
  const sinceMs = parseWhen('--since', since, nowMs, 'utc');
  const requestedUntilMs = flags.until !== undefined ? parseWhen('--until', flags.until, nowMs, 'utc') : nowMs;
  if (requestedUntilMs <= sinceMs) {
    // Name the options the user gave (reviews: it blamed a --until never given, then a --since never given).
    throw flags.until === undefined
      ? new CensusError('bad-window', `--since ${JSON.stringify(since)} is not in the past`, {
          hint: 'the window ends now without --until: give a --since before now, e.g. --since 30d',
        })
      : flags.since === undefined
        ? new CensusError(
            'bad-window',
            `--until ${JSON.stringify(flags.until)} is before the default --since (${DEFAULT_SINCE} ago)`,
            {
              hint: `give an earlier --since too, a date before ${JSON.stringify(flags.until)}`,
            },
          )
        : new CensusError('bad-window', '--until is not after --since', { hint: 'swap the two, or widen the window' });
  }
  const by: TrendBy = flags.by === 'auto' ? chooseBy(sinceMs, requestedUntilMs) : (flags.by as TrendBy);
  const window = alignWindow(sinceMs, requestedUntilMs, by);
  const services = flags.service
    ? flags.service
        .split(/[,\s]+/)
        .map((x) => x.trim())
        .filter((x) => x !== '')
    : null;
  const sections = sectionsOf(flags.direction);
  const store = HistoryStore.open(flags.history, { readonly: true });
  try {
    const source = flags.source ?? null;
    const overview = store.overview(source);
    if (source !== null && !overview.sources.includes(source)) {
      throw new CensusError('unknown-source', `the history has no source ${JSON.stringify(source)}`, {
        hint:
          overview.sources.length > 0
            ? `it has: ${overview.sources.map(forTerminal).join(', ')}`
            : 'it holds no recording yet',
      });
    }
    const days = store.loadDays({ ...window, sections, services, source });
    const data = buildTrend(days, {
      by,
      ...window,
      requestedUntilMs,
      sections,
      sources: overview.sources,
      source,
      services,
      recordedFirstMs: overview.firstHourMs,
      recordedLastMs: overview.lastHourMs,
    });
    const color = (flags.color ?? true) && !process.env.NO_COLOR && process.stdout.isTTY === true;
    io.out(renderTrend(flags.format, data, { color }));
    // (As report says of a --service that matched nothing: all zeros with no word of why left admins guessing.)
    const recorded = sections.reduce(
      (n, section) => n + (data[section]?.periods ?? []).reduce((m, p) => m + p.sessions, 0),
      0,
    );
    if (services !== null && recorded === 0) {
      io.err(
        `note: --service ${forTerminal(services.join(','))} matched no recorded session in the window; ${SERVICE_NAMES}`,
      );
    }
  } finally {
    store.close();
  }
  return EXIT.ok;
}
