// A history batch as one comparable string: its streams, hours and keys sorted, its sketches encoded (two batches
// that record the same sessions give the same string, whatever order their maps were filled in).

import type { HistoryBatch } from '../../src/history/hour-buckets.js';

function sorted<T>(map: Map<string, T>): [string, T][] {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

export function canonicalBatch(batch: HistoryBatch): string {
  return JSON.stringify({
    sessions: batch.sessions,
    undated: batch.undated,
    streams: sorted(batch.streams).map(([mta, s]) => ({
      mta,
      fromMs: s.fromMs,
      toMs: s.toMs,
      hours: [...s.hours]
        .sort((a, b) => a[0] - b[0])
        .map(([hour, b]) => ({
          hour,
          totals: sorted(b.totals),
          handshakes: sorted(b.handshakes),
          failures: sorted(b.failures),
          peers: sorted(b.peers).map(([k, sketch]) => [k, sketch.encode().toString('hex')]),
        })),
    })),
  });
}
