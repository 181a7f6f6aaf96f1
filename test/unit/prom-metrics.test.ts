// `report --format prom` and the counters `watch` serves: the same families and labels, sums that equal the
// report, no peer in any label, capped cipher values, and labels that cannot break the exposition format.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sanitizeLabel } from '../../src/aggregate/session-metrics.js';
import { census } from '../../src/census/census.js';
import { renderProm, TlsMetrics } from '../../src/render/prom.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { parseExposition } from '../helpers/exposition.js';
import { watcherOf } from '../helpers/log-watcher.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const sum = (xs: { value: number }[]) => xs.reduce((n, x) => n + x.value, 0);

describe('prometheus metrics', () => {
  it('report --format prom: the report counted as counters, without peers', async () => {
    for (const log of ['golden/hostile.log', 'corpus/postfix/maillog']) {
      const r = await census(resolveInputs([fixturePath(log)]), { year: 2026, timezone: 'UTC' });
      const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
      const text = await renderProm(report);
      const samples = parseExposition(text);
      const of = (name: string) => samples.filter((s) => s.name === name);
      const spread = [report.inbound, report.outbound, report.mailbox].flatMap((d) => d.spread);
      assert.equal(
        sum(of('tlscensus_handshakes_total')),
        spread.reduce((n, s) => n + s.count, 0),
      );
      const totals = [report.inbound, report.outbound, report.mailbox].map((d) => d.totals);
      assert.equal(
        sum(of('tlscensus_handshake_failures_total')),
        totals.reduce((n, t) => n + t.failed, 0),
      );
      assert.equal(
        sum(of('tlscensus_plaintext_sessions_total')),
        totals.reduce((n, t) => n + t.plaintext, 0),
      );
      assert.equal(sum(of('tlscensus_lines_total')), report.coverage.lines);
      for (const s of of('tlscensus_handshakes_total')) {
        assert.deepEqual(Object.keys(s.labels), ['direction', 'mta', 'service', 'protocol', 'cipher', 'rating']);
      }
      for (const s of of('tlscensus_handshake_failures_total')) {
        assert.deepEqual(Object.keys(s.labels), ['direction', 'mta', 'reason']);
      }
      const peers = [report.inbound, report.outbound, report.mailbox].flatMap((d) => [
        ...d.failures.map((f) => f.peer),
        ...d.plaintext.map((p) => p.peer),
      ]);
      for (const p of peers) assert.ok(!text.includes(p.ip), `no peer address in the metrics: ${p.ip}`);
      assert.ok(!text.includes('evil.example') && !text.includes('<script>'));
    }
  });

  it('labels IMAP/POP3 direction="mailbox", so each direction sums to its section of the report, in watch too (review)', async () => {
    // The bundled sample: Postfix and Dovecot. Under direction="inbound", its 423 IMAP/POP3 logins and 34 failed
    // ones were added to the report's INBOUND figures (581 handshakes, 6 failed).
    const log = path.join(ROOT, 'samples', 'maillog');
    const r = await census(resolveInputs([log]), { year: 2026, timezone: 'UTC' });
    const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-prom-'));
    const file = path.join(dir, 'mail.log');
    fs.copyFileSync(log, file);
    const live = new TlsMetrics();
    const w = watcherOf(file, live, { fromStart: true, idleTtlMs: 300_000, now: () => Date.UTC(2026, 10, 21) });
    w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [what, text] of [
      ['report --format prom', await renderProm(report)],
      ['watch', await live.text()],
    ] as const) {
      const samples = parseExposition(text);
      const of = (name: string, direction: string) =>
        sum(samples.filter((s) => s.name === name && s.labels.direction === direction));
      assert.deepEqual(
        new Set(samples.filter((s) => s.labels.direction !== undefined).map((s) => s.labels.direction)),
        new Set(['inbound', 'outbound', 'mailbox']),
        what,
      );
      for (const section of ['inbound', 'outbound', 'mailbox'] as const) {
        const d = report[section];
        assert.deepEqual(
          [
            of('tlscensus_handshakes_total', section),
            of('tlscensus_handshake_failures_total', section),
            of('tlscensus_plaintext_sessions_total', section),
          ],
          [d.spread.reduce((n, s) => n + s.count, 0), d.totals.failed, d.totals.plaintext],
          `${what}: ${section}`,
        );
      }
      assert.equal(of('tlscensus_handshakes_total', 'mailbox'), 423);
      assert.equal(of('tlscensus_handshake_failures_total', 'mailbox'), 34);
    }
  });

  it('uses the IANA name as the cipher label, and rates it', async () => {
    const r = await census(resolveInputs([fixturePath('golden/hostile.log')]), { year: 2026, timezone: 'UTC' });
    const text = await renderProm(buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null }));
    assert.match(text, /protocol="TLSv1",cipher="TLS_RSA_WITH_RC4_128_SHA",rating="insecure"\} 1/);
  });

  it('caps distinct cipher values and folds the rest into "other", keeping the sum', async () => {
    const m = new TlsMetrics();
    for (let i = 0; i < 200; i++) {
      m.add({ family: 'handshakes', values: ['inbound', 'postfix', 'smtpd', 'TLSv1.2', `CIPHER-${i}`, 'unknown'] }, 2);
    }
    const hs = parseExposition(await m.text()).filter((s) => s.name === 'tlscensus_handshakes_total');
    assert.equal(sum(hs), 400);
    assert.ok(hs.length <= 65, `at most 64 ciphers + other, got ${hs.length}`);
    assert.ok(hs.some((s) => s.labels.cipher === 'other'));
  });

  it('keeps label values printable and bounded', () => {
    assert.equal(sanitizeLabel('a\x1b[31m\nb'), 'a?[31m?b');
    assert.ok(sanitizeLabel('x'.repeat(500)).length <= 80);
  });

  it('exports every line outcome from the start and follows the coverage', async () => {
    const m = new TlsMetrics();
    let lines = parseExposition(await m.text()).filter((s) => s.name === 'tlscensus_lines_total');
    assert.deepEqual(lines.map((s) => s.labels.outcome).sort(), ['event', 'foreign', 'malformed', 'unrecognized']);
    m.syncLines({ lines: 10, events: 4, unrecognized: 3, malformed: 1, foreign: 2 });
    m.syncLines({ lines: 12, events: 5, unrecognized: 4, malformed: 1, foreign: 2 });
    lines = parseExposition(await m.text()).filter((s) => s.name === 'tlscensus_lines_total');
    assert.equal(sum(lines), 12);
  });
});
