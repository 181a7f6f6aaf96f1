// `--history FILE`, `--history-source NAME` and `--keep-days N` for the commands that record (report, watch), and
// the line they print once a report is recorded.

import type { Command } from 'commander';
import { HistoryRecorder, type RecordSummary } from '../history/history-recorder.js';
import { CensusError } from '../model/errors.js';
import { forTerminal } from '../render/sanitize.js';
import { num } from '../render/table.js';
import { VERSION } from './version.js';

export interface HistoryFlags {
  history?: string;
  historySource: string;
  keepDays?: string;
}

export const DEFAULT_HISTORY_SOURCE = 'default';

export function addHistoryOptions(cmd: Command): Command {
  return cmd
    .option('--history <file>', 'also record into this history file (SQLite; created if missing) for tlscensus trend')
    .option(
      '--history-source <name>',
      'the server this log is from, when several record into one history file',
      DEFAULT_HISTORY_SOURCE,
    )
    .option('--keep-days <n>', 'with --history: delete recorded hours older than this many days');
}

function parseKeepDays(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new CensusError('bad-keep-days', `--keep-days ${JSON.stringify(text)} is not a number of days`, {
      hint: 'a whole number of days, at least 1, e.g. --keep-days 400',
    });
  }
  return Number(text);
}

function parseSource(text: string): string {
  const s = text.trim();
  if (s === '' || s.length > 64 || /[\u0000-\u001f\u007f]/.test(s)) {
    throw new CensusError('bad-history-source', `--history-source ${JSON.stringify(text)} is not a usable name`, {
      hint: 'one to 64 printable characters, e.g. the server name: --history-source mx1',
    });
  }
  return s;
}

/** Null without --history; otherwise the opened recorder (history errors surface here, before any log is read). */
export function openRecorder(
  flags: HistoryFlags,
  kind: 'report' | 'watch',
  inputs: readonly string[],
): HistoryRecorder | null {
  const keepDays = parseKeepDays(flags.keepDays);
  const source = parseSource(flags.historySource);
  if (flags.history === undefined) {
    if (keepDays !== null || source !== DEFAULT_HISTORY_SOURCE) {
      throw new CensusError('history-needed', '--keep-days and --history-source need --history FILE', {
        hint: 'add --history /var/lib/tlscensus/history.db (or where you keep it)',
      });
    }
    return null;
  }
  return HistoryRecorder.open(flags.history, { source, kind, inputs, keepDays, toolVersion: VERSION });
}

const when = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

/** `history: 682 sessions (2026-11-20 00:03 → 2026-11-20 12:59 UTC, 13 hours) recorded into FILE`. */
export function summaryLine(file: string, s: RecordSummary): string {
  if (s.sessions === 0) return `history: no dated sessions to record into ${forTerminal(file)}`;
  const span = s.firstMs !== null && s.lastMs !== null ? `${when(s.firstMs)} → ${when(s.lastMs)} UTC, ` : '';
  const pruned = s.pruned > 0 ? `; ${num(s.pruned)} hour bucket(s) past --keep-days removed` : '';
  const undated =
    s.undated > 0
      ? `; ${num(s.undated)} session(s) without a date, or dated over ten years ago or ahead of the clock, not recorded`
      : '';
  return `history: ${num(s.sessions)} sessions (${span}${num(s.hours)} hour${s.hours === 1 ? '' : 's'}) recorded into ${forTerminal(file)}${pruned}${undated}`;
}
