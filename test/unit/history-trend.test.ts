// Trend maths: UTC periods (ISO weeks across a year end), the window, shares per period, gaps, and the renderers
// (bars and sparklines, escaping of names that came from a log).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DaySection, HistoryDay } from '../../src/history/history-store.js';
import { emptyHourTotals, type HourTotals, type Section } from '../../src/history/hour-buckets.js';
import { hashPeer, PeerSketch } from '../../src/history/peer-sketch.js';
import {
  alignWindow,
  buildTrend,
  chooseBy,
  nextPeriod,
  periodLabel,
  periodStart,
  type TrendOptions,
} from '../../src/history/trend.js';
import { renderTrend, shareBar, shareText, sparkline } from '../../src/render/trend-output.js';

const DAY = 86_400_000;
const utc = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d);

function section(totals: Partial<HourTotals>, handshakes: [string, string, number][], peers: string[] = []) {
  const s: DaySection = {
    totals: { ...emptyHourTotals(), ...totals },
    handshakes: new Map(),
    failures: new Map(),
    peers: new Map(),
  };
  for (const [protocol, cipher, count] of handshakes) {
    s.handshakes.set(`${protocol}\u0000${cipher}\u0000secure`, { protocol, cipher, rating: 'secure', count });
  }
  if (peers.length > 0) {
    const plaintext = new PeerSketch();
    const legacy = new PeerSketch();
    for (const p of peers) {
      if (p.startsWith('legacy')) legacy.add(hashPeer(p));
      else plaintext.add(hashPeer(p));
    }
    s.peers.set('plaintext', plaintext);
    s.peers.set('legacy', legacy);
  }
  return s;
}

function day(dayMs: number, observedHours: number, inbound: DaySection): HistoryDay {
  return { dayMs, observedHours, sections: new Map<Section, DaySection>([['inbound', inbound]]) };
}

function options(o: Partial<TrendOptions> & Pick<TrendOptions, 'by' | 'sinceMs' | 'untilMs'>): TrendOptions {
  return {
    requestedUntilMs: o.untilMs,
    sections: ['inbound'],
    sources: ['default'],
    source: null,
    services: null,
    recordedFirstMs: null,
    recordedLastMs: null,
    ...o,
  };
}

describe('trend: periods', () => {
  it('starts days, ISO weeks (Monday) and months in UTC', () => {
    const t = Date.UTC(2026, 10, 27, 20, 41); // Friday
    assert.equal(periodStart(t, 'day'), utc(2026, 11, 27));
    assert.equal(periodStart(t, 'week'), utc(2026, 11, 23));
    assert.equal(periodStart(t, 'month'), utc(2026, 11, 1));
    assert.equal(nextPeriod(utc(2026, 12, 1), 'month'), utc(2027, 1, 1));
    assert.equal(nextPeriod(utc(2026, 11, 23), 'week'), utc(2026, 11, 30));
  });

  it('labels ISO weeks by the year of their Thursday', () => {
    assert.equal(periodLabel(utc(2026, 11, 23), 'week'), '2026-W48');
    assert.equal(periodLabel(periodStart(utc(2027, 1, 1), 'week'), 'week'), '2026-W53'); // 2026 has 53 weeks
    assert.equal(periodLabel(periodStart(utc(2021, 1, 3), 'week'), 'week'), '2020-W53');
    assert.equal(periodLabel(periodStart(utc(2019, 12, 30), 'week'), 'week'), '2020-W01');
    assert.equal(periodLabel(utc(2026, 11, 1), 'month'), '2026-11');
    assert.equal(periodLabel(utc(2026, 11, 27), 'day'), '2026-11-27');
  });

  it('widens the window to whole periods and picks the period by its length', () => {
    const w = alignWindow(Date.UTC(2026, 10, 4, 13), Date.UTC(2026, 10, 27, 20), 'week');
    assert.deepEqual(w, { sinceMs: utc(2026, 11, 2), untilMs: utc(2026, 11, 30) });
    assert.deepEqual(alignWindow(utc(2026, 11, 1), utc(2026, 11, 2), 'day'), {
      sinceMs: utc(2026, 11, 1),
      untilMs: utc(2026, 11, 2),
    });
    assert.equal(chooseBy(0, 30 * DAY), 'day');
    assert.equal(chooseBy(0, 90 * DAY), 'week');
    assert.equal(chooseBy(0, 400 * DAY), 'month');
  });
});

describe('trend: maths', () => {
  const days = [
    // Week 2026-W46: 100 sessions, 80 TLS of 90 eligible (10 no-command), 8 legacy handshakes of 80.
    day(
      utc(2026, 11, 9),
      24,
      section({ sessions: 60, tls: 50, noCommand: 5, failed: 3, plaintext: 2, messages: 70 }, [
        ['TLSv1.3', 'TLS_AES_256_GCM_SHA384', 40],
        ['TLSv1', 'ECDHE-RSA-AES256-SHA', 10],
      ]),
    ),
    day(
      utc(2026, 11, 10),
      24,
      section({ sessions: 40, tls: 30, noCommand: 5, failed: 2, plaintext: 3 }, [['TLSv1.2', 'X', 30]]),
    ),
    // W47 not recorded at all; W48 partly.
    day(
      utc(2026, 11, 24),
      12,
      section(
        { sessions: 10, tls: 10 },
        [['TLSv1.3', 'TLS_AES_256_GCM_SHA384', 10]],
        ['a', 'b', 'legacy-c', 'legacy-c'],
      ),
    ),
  ];
  const trend = buildTrend(
    days,
    options({
      by: 'week',
      sinceMs: utc(2026, 10, 26),
      untilMs: utc(2026, 11, 30),
      requestedUntilMs: Date.UTC(2026, 10, 27, 12),
    }),
  );
  const p = trend.inbound!.periods;

  it('leaves out the periods before the history starts and keeps later gaps', () => {
    assert.deepEqual(
      p.map((x) => [x.period, x.observedHours]),
      [
        ['2026-W46', 48],
        ['2026-W47', 0],
        ['2026-W48', 12],
      ],
    );
    assert.equal(p[0]!.hours, 168);
    assert.equal(p[2]!.hours, 4 * 24 + 12, 'the last period counts the hours up to the end asked for');
  });

  it('computes TLS share (as the report does), legacy share and protocols per period', () => {
    const w = p[0]!;
    assert.equal(w.sessions, 100);
    assert.equal(w.tlsShare, 80 / 90);
    assert.equal(w.handshakes, 80);
    assert.equal(w.legacyHandshakes, 10);
    assert.equal(w.legacyShare, 10 / 80);
    assert.deepEqual(
      w.protocols.map((x) => [x.protocol, x.count]),
      [
        ['TLSv1.3', 40],
        ['TLSv1.2', 30],
        ['TLSv1', 10],
      ],
    );
    assert.equal(p[1]!.tlsShare, null);
    assert.equal(p[1]!.legacyShare, null);
    assert.deepEqual(p[2]!.peers, { legacy: 1, plaintext: 2, failed: 0 });
  });

  it('sums the window and keeps the first and last share', () => {
    const s = trend.inbound!.summary;
    assert.equal(s.sessions, 110);
    assert.equal(s.tlsShare, 90 / 100);
    assert.equal(s.tlsShareFirst, 80 / 90);
    assert.equal(s.tlsShareLast, 1);
    assert.equal(s.legacyShareLast, 0);
  });

  it('leaves peers out with a service filter (sketches are per section)', () => {
    const t = buildTrend(
      days,
      options({ by: 'week', sinceMs: utc(2026, 11, 9), untilMs: utc(2026, 11, 16), services: ['smtpd'] }),
    );
    assert.equal(t.inbound!.periods[0]!.peers, null);
  });

  it('spans a window from 1970 to 9999 by day in the periods it needs (review: it ran out of memory)', () => {
    const t = buildTrend(
      days,
      options({ by: 'day', sinceMs: utc(1970, 1, 1), untilMs: utc(9999, 12, 31), requestedUntilMs: utc(9999, 12, 31) }),
    );
    const periods = t.inbound!.periods;
    assert.equal(periods[0]!.period, '2026-11-09');
    assert.ok(periods.length <= 5000, `${periods.length} periods`);
    assert.equal(periods.find((x) => x.period === '2026-11-24')?.observedHours, 12);
  });

  it('gives no periods when nothing was recorded in the window', () => {
    const t = buildTrend([], options({ by: 'day', sinceMs: utc(2026, 11, 1), untilMs: utc(2026, 11, 8) }));
    assert.deepEqual(t.inbound!.periods, []);
    assert.match(renderTrend('table', t, { color: false }), /no history in this window/);
  });
});

describe('trend: rendering', () => {
  it('draws bars in eighths, sparklines from low to high, shares that never round to zero', () => {
    assert.equal(shareBar(1), '██████████');
    assert.equal(shareBar(0), '          ');
    assert.equal(shareBar(0.875), '████████▊ ');
    assert.equal(sparkline([0, 0.5, 1, null]), '▁▅█ ');
    assert.equal(sparkline([3, 3]), '▄▄');
    assert.equal(shareText(0.0001), '<0.1%');
    assert.equal(shareText(0.9999), '>99.9%');
    assert.equal(shareText(null), '—');
  });

  it('escapes names from the log in every format', () => {
    const evil = '\x1b[31mTLSv1=cmd|x`';
    const t = buildTrend(
      [day(utc(2026, 11, 9), 1, section({ sessions: 1, tls: 1 }, [[evil, 'c', 1]]))],
      options({ by: 'day', sinceMs: utc(2026, 11, 9), untilMs: utc(2026, 11, 10), sources: ['mx\x1b]0;'] }),
    );
    const table = renderTrend('table', t, { color: false });
    assert.ok(!table.includes('\x1b'), 'no raw escape in the table');
    assert.match(table, /\\x1b\[31mTLSv1=cmd\|x` 100%/);
    const md = renderTrend('md', t, { color: false });
    assert.ok(!md.includes('\x1b') && md.includes('TLSv1=cmd\\|x\\`'));
    const csv = renderTrend('csv', t, { color: false });
    assert.ok(!csv.includes('\x1b'));
    const json = JSON.parse(renderTrend('json', t, { color: false })) as { schema: string };
    assert.equal(json.schema, 'tlscensus/trend@1');
  });

  it('colours only when asked', () => {
    const t = buildTrend(
      [day(utc(2026, 11, 9), 24, section({ sessions: 2, tls: 2 }, [['TLSv1', 'c', 2]]))],
      options({ by: 'day', sinceMs: utc(2026, 11, 9), untilMs: utc(2026, 11, 10) }),
    );
    assert.ok(!renderTrend('table', t, { color: false }).includes('\x1b['));
    assert.ok(renderTrend('table', t, { color: true }).includes('\x1b[33m100.0%'), 'legacy share in yellow');
  });
});
