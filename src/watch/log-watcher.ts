// `watch`: followed files → one census engine per file → live Prometheus counters. A session is counted when
// it closes (disconnect, key reuse, or idle TTL); the engine's view is never filled (the session filter hands
// each counted session to the metrics and keeps nothing), so memory is bounded by open sessions whatever the
// uptime. Idle sessions are closed once every file is read to its end, by the log's clock run on by the wall clock
// (`poll`).

import { sessionMetrics } from '../aggregate/session-metrics.js';
import { CensusEngine } from '../census/engine.js';
import type { Dialect } from '../dialects/dialect.js';
import type { Zone } from '../envelope/clock.js';
import type { Coverage, Session } from '../model/types.js';
import type { TlsMetrics } from '../render/prom.js';
import { FileFollower } from '../sources/follow-file.js';

export interface LogWatcherOptions {
  files: readonly string[];
  dialects: readonly Dialect[];
  zone: Zone;
  year: number | null;
  filter: (s: Session) => boolean;
  /** Sees every closed session before `filter` (watch --history records the whole log). */
  onSession?: (s: Session) => void;
  fromStart: boolean;
  /** Sessions idle longer than this are closed and counted. */
  idleTtlMs: number;
  onEvent?: (message: string) => void;
  /**
   * Called when a followed file's directory reports a rename, creation or removal in its rotation set (inotify):
   * poll soon, so that files rotated in quick succession are seen before they are compressed or deleted.
   */
  onWake?: () => void;
  /** The clock used for idle expiry (tests). */
  now?: () => number;
}

interface Followed {
  follower: FileFollower;
  engine: CensusEngine;
  /** Events read so far: when it moves, the log's clock is set again (`anchorMs`, `anchorAt`). */
  events: number;
  /** The log time of the last line read with one, and the wall time when it was read (null: none yet). */
  anchorMs: number | null;
  anchorAt: number;
}

/** A line can be dated this far ahead of the wall clock (clock skew): see `setYearReference`. */
const YEAR_SKEW_MS = 24 * 3600_000;

export class LogWatcher {
  private readonly followed: Followed[];
  private readonly now: () => number;

  constructor(
    options: LogWatcherOptions,
    private readonly metrics: TlsMetrics,
  ) {
    this.now = options.now ?? Date.now;
    this.followed = options.files.map((file) => {
      const engine = new CensusEngine({
        dialects: options.dialects,
        zone: options.zone,
        year: options.year,
        filter: (s) => {
          options.onSession?.(s);
          if (options.filter(s)) {
            const m = sessionMetrics(s);
            if (m) metrics.add(m);
          }
          return false;
        },
        idleTtlMs: options.idleTtlMs,
        maxSamples: 0,
      });
      engine.beginSource(file, this.now() + YEAR_SKEW_MS);
      const follower = new FileFollower(
        file,
        { line: (buf, s, e) => engine.line(buf, s, e), overlong: (n) => engine.overlong(n) },
        {
          fromStart: options.fromStart,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
          ...(options.onWake ? { onWake: options.onWake } : {}),
        },
      );
      return { follower, engine, events: 0, anchorMs: null, anchorAt: 0 };
    });
    metrics.gauge('tlscensus_open_sessions', 'Connections seen opening and not closed yet.', () =>
      this.followed.reduce((n, f) => n + f.engine.openSessions, 0),
    );
  }

  /**
   * Reads what is new in every file. Returns true when some file stopped at its read budget (poll again at once).
   * When all are at their end, sessions idle past the TTL are closed.
   *
   * Idle by the log's own clock, run on by the wall clock: the time of the last line read plus the time since it
   * was read. The wall clock alone would take every session for an hour old whenever the log's times are an hour
   * off — the repeated hour after a DST change (syslog stamps carry no offset), a log written in UTC read with a
   * local --timezone — and split each at every poll (a review). A quiet log's sessions still close after the TTL.
   */
  poll(): boolean {
    const now = this.now();
    let more = false;
    for (const f of this.followed) {
      f.engine.setYearReference(now + YEAR_SKEW_MS);
      if (f.follower.poll()) more = true;
      if (f.engine.coverage.events !== f.events) {
        f.events = f.engine.coverage.events;
        const t = f.engine.lastObservedMs;
        if (t !== null) {
          f.anchorMs = t;
          f.anchorAt = now;
        }
      }
    }
    if (!more) {
      for (const f of this.followed) f.engine.expireIdle(f.anchorMs === null ? now : f.anchorMs + (now - f.anchorAt));
    }
    this.metrics.syncLines(this.coverage());
    return more;
  }

  /** SIGHUP: reopen every file by name. */
  reopen(): void {
    for (const f of this.followed) f.follower.reopen();
  }

  /** Exit: read what is left, count the sessions still open, close the files. */
  stop(): void {
    for (const f of this.followed) {
      while (f.follower.poll()) {
        // read to the end
      }
      f.engine.finish();
      f.follower.close();
    }
    this.metrics.syncLines(this.coverage());
  }

  coverage(): Coverage {
    const c: Coverage = { lines: 0, events: 0, unrecognized: 0, malformed: 0, foreign: 0 };
    for (const { engine } of this.followed) {
      c.lines += engine.coverage.lines;
      c.events += engine.coverage.events;
      c.unrecognized += engine.coverage.unrecognized;
      c.malformed += engine.coverage.malformed;
      c.foreign += engine.coverage.foreign;
    }
    return c;
  }
}
