// A LogWatcher over one file as the tests use it: every dialect, UTC, no filter, a clock the test moves.

import { compileFilter } from '../../src/census/session-filter.js';
import { DIALECTS } from '../../src/dialects/registry.js';
import { parseZone } from '../../src/envelope/clock.js';
import type { TlsMetrics } from '../../src/render/prom.js';
import { LogWatcher, type LogWatcherOptions } from '../../src/watch/log-watcher.js';

export function watcherOf(
  file: string,
  metrics: TlsMetrics,
  options: Partial<LogWatcherOptions> & { now: () => number },
): LogWatcher {
  return new LogWatcher(
    {
      files: [file],
      dialects: DIALECTS,
      zone: parseZone('UTC'),
      year: null,
      filter: compileFilter({}),
      fromStart: false,
      idleTtlMs: 60_000,
      ...options,
    },
    metrics,
  );
}
