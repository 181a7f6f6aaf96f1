// Closed sessions → the history file: the glue `report --history` and `watch --history` share. The store is
// opened first (a bad file fails before minutes of reading); sessions are collected into hour buckets; a report
// writes them once, in one transaction, after printing; a watch flushes them periodically and on exit.

import type { Session } from '../model/types.js';
import { HistoryStore } from './history-store.js';
import { HourBuckets, type RecordableWindow } from './hour-buckets.js';

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

export interface RecorderOptions {
  /** Which server's log this is (`--history-source`): overlapping spans are resolved per source. */
  source: string;
  kind: 'report' | 'watch';
  /** The logs as given, kept with the recording for the record. */
  inputs: readonly string[];
  /** `--keep-days`: delete hours before the UTC day this many days ago. */
  keepDays: number | null;
  toolVersion: string;
  now?: () => number;
}

export interface RecordSummary {
  /** Dated sessions written by this call. */
  sessions: number;
  undated: number;
  /** Span of their start times. */
  firstMs: number | null;
  lastMs: number | null;
  /** Hour buckets written. */
  hours: number;
  /** Hour contributions deleted by the retention. */
  pruned: number;
}

/** Start of the UTC day `keepDays` days before `nowMs`: hours before it are deleted. */
export function retentionCutoff(nowMs: number, keepDays: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS - keepDays * DAY_MS;
}

/**
 * Sessions dated further back than this, or more than a day ahead of the clock, are not recorded (counted as
 * undated): trends are of recent years, and a line from a clock reset to 1970, or a forged log with dates all over
 * years 0–9999, would otherwise add an hour bucket each.
 */
const RECORDABLE_YEARS = 10;
const CLOCK_SKEW_MS = DAY_MS;

export class HistoryRecorder {
  /** Where the sessions go: `add`, or a census's `history` option (which lets it count in ranges). */
  readonly buckets: HourBuckets;
  private recordingId: number | null = null;
  private lastPruneMs = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  private constructor(
    readonly store: HistoryStore,
    private readonly options: RecorderOptions,
  ) {
    this.now = options.now ?? Date.now;
    const nowMs = this.now();
    // (A watch runs for days: its window's end moves on with the clock, `add`.)
    this.window = { fromMs: nowMs - RECORDABLE_YEARS * 365.25 * DAY_MS, toMs: nowMs + CLOCK_SKEW_MS };
    this.buckets = new HourBuckets({ window: this.window });
  }

  private readonly window: RecordableWindow;

  /** Opens (creates, migrates) the file: every history error surfaces here, before any log is read. */
  static open(file: string, options: RecorderOptions): HistoryRecorder {
    const now = options.now ?? Date.now;
    return new HistoryRecorder(HistoryStore.open(file, { nowMs: now(), toolVersion: options.toolVersion }), options);
  }

  add(s: Session): void {
    // A watch's sessions are dated by its log, up to now: one line dated years ahead would otherwise write an
    // hour row for every hour until then, and hold the watch while it did (a review).
    if (this.options.kind === 'watch') this.window.toMs = this.now() + CLOCK_SKEW_MS;
    this.buckets.add(s);
  }

  /** Sessions collected and not written yet. */
  get pending(): number {
    return this.buckets.pending;
  }

  /**
   * Writes what was collected since the last flush, in one transaction; a failed write keeps the sessions for
   * the next flush. A report's recording is created here, finished from the start (all of it is this write).
   */
  flush(): RecordSummary {
    const batch = this.buckets.take();
    let firstMs: number | null = null;
    let lastMs: number | null = null;
    for (const s of batch.streams.values()) {
      firstMs = firstMs === null ? s.fromMs : Math.min(firstMs, s.fromMs);
      lastMs = lastMs === null ? s.toMs : Math.max(lastMs, s.toMs);
    }
    const nowMs = this.now();
    let hours = 0;
    let pruned = 0;
    if (batch.streams.size === 0 && (this.options.kind === 'report' || this.recordingId !== null)) {
      // Nothing to place in an hour: no write (a report without dated sessions leaves no recording), except
      // the retention of a quiet watch.
      if (this.options.kind === 'watch' && this.pruneIsDue(nowMs)) {
        pruned = this.store.transaction(() => this.pruneDue(nowMs));
        if (pruned > 0) this.store.compact();
      }
      return { sessions: 0, undated: batch.undated, firstMs, lastMs, hours, pruned };
    }
    try {
      // The recording's id is kept only once the transaction that created it is committed.
      this.recordingId = this.store.transaction(() => {
        const id = this.recordingId ?? this.begin(nowMs);
        hours = this.store.record(id, this.options.source, batch).hours;
        pruned = this.pruneDue(nowMs);
        return id;
      });
    } catch (e) {
      this.buckets.restore(batch);
      throw e;
    }
    if (pruned > 0) this.store.compact();
    return { sessions: batch.sessions, undated: batch.undated, firstMs, lastMs, hours, pruned };
  }

  /** A watch: creates its recording (and applies the retention) before the first session arrives. */
  start(): void {
    const nowMs = this.now();
    let pruned = 0;
    this.recordingId = this.store.transaction(() => {
      pruned = this.pruneDue(nowMs);
      return this.recordingId ?? this.begin(nowMs);
    });
    if (pruned > 0) this.store.compact();
  }

  /** The last flush; a watch's recording is marked finished. Closes the file. */
  finish(): RecordSummary {
    try {
      const summary = this.flush();
      const id = this.recordingId;
      if (this.options.kind === 'watch' && id !== null) {
        this.store.transaction(() => this.store.finishRecording(id, this.now()));
      }
      return summary;
    } finally {
      this.store.close();
    }
  }

  close(): void {
    this.store.close();
  }

  private begin(nowMs: number): number {
    return this.store.beginRecording({
      source: this.options.source,
      kind: this.options.kind,
      inputs: this.options.inputs,
      nowMs,
      finished: this.options.kind === 'report',
    });
  }

  private pruneIsDue(nowMs: number): boolean {
    return this.options.keepDays !== null && nowMs - this.lastPruneMs >= PRUNE_EVERY_MS;
  }

  private pruneDue(nowMs: number): number {
    const keepDays = this.options.keepDays;
    if (keepDays === null || !this.pruneIsDue(nowMs)) return 0;
    this.lastPruneMs = nowMs;
    return this.store.prune(retentionCutoff(nowMs, keepDays));
  }
}
