// Prometheus metrics through prom-client, on a private Registry (never the global one): the counter families
// `watch` serves and `report --format prom` writes once (README "Metrics"). Labels never name a peer; cipher
// and service values are capped (session-metrics.ts) so a strange log cannot create unbounded series.

import type * as PromClient from 'prom-client';
import {
  FAILURE_LABELS,
  HANDSHAKE_LABELS,
  type MetricFamily,
  MetricLabelCaps,
  type MetricSample,
  PLAINTEXT_LABELS,
} from '../aggregate/session-metrics.js';
import { lazyModule } from '../lazy-module.js';
import type { Coverage, LineOutcome } from '../model/types.js';
import type { ReportData } from './report-model.js';

const promClient = lazyModule<typeof PromClient>('prom-client');

export const LINE_OUTCOMES: readonly LineOutcome[] = ['event', 'unrecognized', 'malformed', 'foreign'];

export class TlsMetrics {
  readonly registry = new (promClient().Registry)();
  private readonly caps = new MetricLabelCaps();
  readonly handshakes = new (promClient().Counter)({
    name: 'tlscensus_handshakes_total',
    help: 'Completed TLS handshakes, counted when the session closes (cipher: IANA name, or as logged when not in the table; rare values folded into "other").',
    labelNames: HANDSHAKE_LABELS,
    registers: [this.registry],
  });
  readonly failures = new (promClient().Counter)({
    name: 'tlscensus_handshake_failures_total',
    help: 'Failed TLS handshakes, by reason.',
    labelNames: FAILURE_LABELS,
    registers: [this.registry],
  });
  readonly plaintext = new (promClient().Counter)({
    name: 'tlscensus_plaintext_sessions_total',
    help: 'Sessions that exchanged commands or mail without TLS.',
    labelNames: PLAINTEXT_LABELS,
    registers: [this.registry],
  });
  readonly lines = new (promClient().Counter)({
    name: 'tlscensus_lines_total',
    help: 'Log lines read, by outcome (event, unrecognized, malformed, foreign).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly families: Record<MetricFamily, PromClient.Counter<string>> = {
    handshakes: this.handshakes,
    failures: this.failures,
    plaintext: this.plaintext,
  };
  private readonly names: Record<MetricFamily, readonly string[]> = {
    handshakes: HANDSHAKE_LABELS,
    failures: FAILURE_LABELS,
    plaintext: PLAINTEXT_LABELS,
  };
  private readonly linesSeen: Coverage = { lines: 0, events: 0, unrecognized: 0, malformed: 0, foreign: 0 };

  constructor() {
    // Every outcome is exported from the start (a series that appears late breaks rate() and increase()).
    for (const outcome of LINE_OUTCOMES) this.lines.inc({ outcome }, 0);
  }

  /** Adds `n` sessions with these label values (capped here). */
  add(sample: MetricSample, n = 1): void {
    const capped = this.caps.apply(sample);
    const names = this.names[capped.family];
    const labels: Record<string, string> = {};
    names.forEach((name, i) => {
      labels[name] = capped.values[i] ?? '';
    });
    this.families[capped.family].inc(labels, n);
  }

  /** Brings `tlscensus_lines_total` up to a coverage that only grows (the engine's running totals). */
  syncLines(c: Coverage): void {
    const pairs: [LineOutcome, 'events' | 'unrecognized' | 'malformed' | 'foreign'][] = [
      ['event', 'events'],
      ['unrecognized', 'unrecognized'],
      ['malformed', 'malformed'],
      ['foreign', 'foreign'],
    ];
    for (const [outcome, field] of pairs) {
      const delta = c[field] - this.linesSeen[field];
      if (delta > 0) this.lines.inc({ outcome }, delta);
      this.linesSeen[field] = c[field];
    }
  }

  /** A gauge whose value is read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    new (promClient().Gauge)({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `report --format prom`: the report's counters, most frequent first so that the caps keep the common ones. */
export function renderProm(r: ReportData): Promise<string> {
  const m = new TlsMetrics();
  const c = r.counters;
  const byCount = <T extends { count: number }>(xs: T[]) => [...xs].sort((a, b) => b.count - a.count);
  for (const e of byCount(c.handshakes)) {
    m.add({ family: 'handshakes', values: [e.direction, e.mta, e.service, e.protocol, e.cipher, e.rating] }, e.count);
  }
  for (const e of byCount(c.failures)) m.add({ family: 'failures', values: [e.direction, e.mta, e.reason] }, e.count);
  for (const e of byCount(c.plaintext)) m.add({ family: 'plaintext', values: [e.direction, e.mta] }, e.count);
  m.syncLines(r.coverage);
  return m.text();
}

/** Process metrics (CPU, RSS, open file descriptors, event-loop lag) into a registry. */
export function collectProcessMetrics(registry: PromClient.Registry): void {
  promClient().collectDefaultMetrics({ register: registry });
}
