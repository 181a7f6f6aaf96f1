// The census engine: bytes → outcome → observations (line-engine.ts) → sessions → view. One engine reads
// inputs one after another (a session may continue from maillog.1 into maillog); `census()` drives it over
// files, `watch` over followed files. With worker threads, the workers run the per-line half over chunks and
// this engine correlates what they found, in order (parallel-census.ts), so the result is the same.

import { addSession, type CensusView, emptyView, MAX_SERVICES } from '../aggregate/census-view.js';
import { Correlator } from '../correlate/correlator.js';
import { DEFAULT_FALLBACK_WINDOW_MS, FallbackDetector } from '../correlate/fallback-detector.js';
import type { BucketsPart, HourBuckets } from '../history/hour-buckets.js';
import type { Coverage, Session } from '../model/types.js';
import { LineEngine, type LineEngineOptions, nothingClaimedError, type UnparsedSample } from './line-engine.js';
import type { SessionFilter } from './session-filter.js';

export interface EngineOptions extends LineEngineOptions {
  filter: (s: Session) => boolean;
  /**
   * Collects every closed session (before the filter), for `--history`. Unlike a tap on the filter, it can be
   * split: a range census's threads collect their own, absorbed in order (`absorbHistory`).
   */
  history?: HourBuckets | null;
  idleTtlMs?: number;
  /** How soon after a failed handshake a plaintext session of the same peer counts as a fallback. */
  fallbackWindowMs?: number;
  /** The read skipped lines (window-seek.ts): see CorrelatorOptions.partialBeforeMs and skippedLatestMs. */
  partialBeforeMs?: number | null;
  skippedLatestMs?: number | null;
  /** The report's window, for `windowOpenAtEnd` (the filter's times). */
  window?: { sinceMs?: number | null; untilMs?: number | null };
  /** Keep each section's peers per service too (census-view.ts DirectionView.byService), for what-if. */
  peersByService?: boolean;
}

export class CensusEngine extends LineEngine {
  readonly view: CensusView;
  readonly history: HourBuckets | null;
  private readonly correlator: Correlator;
  private readonly fallback: FallbackDetector;
  /**
   * Warming up (a range census's worker, before its range): lines are read only to rebuild the state of the
   * correlator and the fallback detector; the sessions they close are the range before's, not counted here.
   */
  warmingUp = false;
  /** A range counted elsewhere met `partialDecided`. */
  private partialElsewhere = false;
  /** `finish` is closing the sessions still open. */
  private finishing = false;
  /**
   * Sessions that started in the report's window (`EngineOptions.window`) and were still open when the input ended
   * (`finish` closed them), here or in the last range, counted elsewhere (`noteOpenAtEnd`). A read that stopped
   * before the end of the log (window-seek.ts, `seekWindowEnd`) is exact only when there are none. By their start
   * alone, not by the whole filter: a later line may still change what else the filter reads (the peer's name,
   * which `--exclude-unknown` tests, comes with a later line when the first had none).
   */
  windowOpenAtEnd = 0;
  /**
   * The services of the sessions read, whatever the filter keeps (at most MAX_SERVICES, the view's own bound: a
   * log names a handful, a forged one one per line): what a `--service` that matched nothing is told the log has.
   */
  readonly servicesSeen = new Set<string>();

  constructor(options: EngineOptions) {
    // Before the filter: a failure outside --direction/--service still explains a plaintext session inside it.
    const fallback = new FallbackDetector(options.fallbackWindowMs ?? DEFAULT_FALLBACK_WINDOW_MS);
    const history = options.history ?? null;
    const since = options.window?.sinceMs ?? null;
    const until = options.window?.untilMs ?? null;
    const inWindow = (s: Session) =>
      s.startMs !== null && (since === null || s.startMs >= since) && (until === null || s.startMs < until);
    const correlator = new Correlator(
      (s) => {
        fallback.mark(s);
        if (this.warmingUp) return;
        this.noteServices([s.service]);
        history?.add(s);
        if (this.finishing && inWindow(s)) this.windowOpenAtEnd++;
        if (options.filter(s)) addSession(this.view, s);
      },
      {
        ...(options.idleTtlMs ? { idleTtlMs: options.idleTtlMs } : {}),
        partialBeforeMs: options.partialBeforeMs ?? null,
        skippedLatestMs: options.skippedLatestMs ?? null,
      },
    );
    super(options, correlator);
    this.view = emptyView({ peersByService: options.peersByService === true });
    this.correlator = correlator;
    this.fallback = fallback;
    this.history = history;
  }

  /**
   * A decision of the correlator read a session that may lack lines a window-seek skipped, here or in a range
   * counted elsewhere (`notePartialDecided`): the census must read everything instead.
   */
  get partialDecided(): boolean {
    return this.correlator.partialDecided || this.partialElsewhere;
  }

  /** A range counted elsewhere (range-census.ts) met `partialDecided`. */
  notePartialDecided(decided: boolean): void {
    if (decided) this.partialElsewhere = true;
  }

  /** The services of sessions read elsewhere (a range's). */
  noteServices(services: readonly string[] | undefined): void {
    for (const service of services ?? []) {
      if (this.servicesSeen.size < MAX_SERVICES) this.servicesSeen.add(service);
    }
  }

  /** The last range, counted elsewhere (range-census.ts), ended with these sessions of the window open. */
  noteOpenAtEnd(sessions: number | undefined): void {
    this.windowOpenAtEnd += sessions ?? 0;
  }

  /** A range's history, collected after everything read here (range-census.ts): see HourBuckets.absorb. */
  absorbHistory(part: BucketsPart | null | undefined): void {
    if (part) this.history?.absorb(part);
  }

  /**
   * Everything the sessions still to come depend on, comparable: two engines with equal seam states make the
   * same sessions of the same lines (range-census.ts checks each seam with it).
   */
  seamState(): string {
    return `${this.correlator.seamState()}\n${this.fallback.seamState()}`;
  }

  /** The next range carries the open sessions on (its warm-up rebuilt them, and seamState proved it). */
  discardOpen(): void {
    this.correlator.discardOpen();
  }

  /** All inputs read: close open sessions and return the result. */
  finish(): { view: CensusView; coverage: Coverage; samples: UnparsedSample[]; claimedLines: number } {
    this.finishing = true;
    this.correlator.flush();
    return { view: this.view, coverage: this.coverage, samples: this.samples, claimedLines: this.claimedLines };
  }

  /** Close sessions idle for longer than the TTL at `nowMs` (follow mode: wall clock, when caught up). */
  expireIdle(nowMs: number): void {
    this.correlator.expireIdle(nowMs);
  }

  /** The log time of the last line that had one (watch: the log's clock, see LogWatcher.poll). */
  get lastObservedMs(): number | null {
    return this.correlator.lastObservedMs;
  }

  /** Connections open right now (memory is bounded by these). */
  get openSessions(): number {
    return this.correlator.openCount;
  }
}

export type { SessionFilter, UnparsedSample };
export { nothingClaimedError };
