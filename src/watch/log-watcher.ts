// `watch`: followed files → one census engine per file → live Prometheus counters. A session is counted when
// it closes (disconnect, key reuse, or idle TTL); the engine's view is never filled (the session filter hands
// each counted session to the metrics and keeps nothing), so memory is bounded by open sessions whatever the
// uptime. Idle sessions are closed by the wall clock once every file is read to its end.

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
}

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
      engine.beginSource(file, this.now());
      const follower = new FileFollower(
        file,
        { line: (buf, s, e) => engine.line(buf, s, e), overlong: (n) => engine.overlong(n) },
        {
          fromStart: options.fromStart,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}),
          ...(options.onWake ? { onWake: options.onWake } : {}),
        },
      );
      return { follower, engine };
    });
    metrics.gauge('tlscensus_open_sessions', 'Connections seen opening and not closed yet.', () =>
      this.followed.reduce((n, f) => n + f.engine.openSessions, 0),
    );
  }

  /**
   * Reads what is new in every file. Returns true when some file stopped at its read budget (poll again at once).
   * When all are at their end, sessions idle past the TTL are closed.
   */
  poll(): boolean {
    let more = false;
    for (const f of this.followed) if (f.follower.poll()) more = true;
    if (!more) for (const f of this.followed) f.engine.expireIdle(this.now());
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
