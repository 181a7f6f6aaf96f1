// A view's session counts over time are bounded (time-buckets.ts): beyond MAX_TIME_BUCKETS distinct hours it
// counts per day, month or year, the finest unit within the bound, whatever order the sessions came in, so that
// merged views end as one pass does. Forged or corrupt lines dated anywhere in years 0–9999 made an entry per hour.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addSession, type CensusView, emptyView, mergeViews } from '../../src/aggregate/census-view.js';
import { bucketStart, bucketsBetween, MAX_TIME_BUCKETS, nextBucket } from '../../src/aggregate/time-buckets.js';
import type { Session } from '../../src/model/types.js';
import { reportOfView } from '../helpers/view-report.js';

const HOUR_MS = 3_600_000;

function session(startMs: number, n: number): Session {
  return {
    mta: 'postfix',
    service: 'smtpd',
    direction: 'inbound',
    peer: { host: null, ip: `10.0.${(n >> 8) & 255}.${n & 255}` },
    startMs,
    endMs: startMs + 1000,
    outcome: n % 3 === 0 ? 'plaintext' : 'tls',
    handshake: n % 3 === 0 ? null : { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: null, trust: null },
    failure: null,
    messages: 1,
  };
}

/** A deterministic spread of `count` start times over `years` years from `fromYear` (a forged log's dates). */
function dates(count: number, fromYear: number, years: number): number[] {
  const first = new Date(0);
  first.setUTCFullYear(fromYear, 0, 1);
  const span = years * 365.2425 * 24 * HOUR_MS;
  let x = 12345;
  return Array.from({ length: count }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return first.getTime() + Math.floor((x / 2 ** 32) * span);
  });
}

/** Adds a session at each of `starts` to `view`, numbering their peers from `first`. */
function add(view: CensusView, starts: number[], first = 0): void {
  starts.forEach((t, n) => {
    addSession(view, session(t, first + n));
  });
}

function timeline(v: CensusView): string {
  return JSON.stringify({
    unit: v.timeUnit,
    buckets: [...v.timeBuckets].sort((a, b) => a[0] - b[0]).map(([t, c]) => [t, [...c].sort()]),
  });
}

describe('time buckets', () => {
  it('starts buckets in UTC, years before 100 included', () => {
    const t = new Date(0);
    t.setUTCFullYear(50, 6, 15);
    t.setUTCHours(13, 30);
    assert.equal(new Date(bucketStart(t.getTime(), 'year')).toISOString(), '0050-01-01T00:00:00.000Z');
    assert.equal(new Date(bucketStart(t.getTime(), 'month')).toISOString(), '0050-07-01T00:00:00.000Z');
    assert.equal(new Date(bucketStart(t.getTime(), 'day')).toISOString(), '0050-07-15T00:00:00.000Z');
    const dec = Date.UTC(2026, 11, 1);
    assert.equal(new Date(nextBucket(dec, 'month')).toISOString(), '2027-01-01T00:00:00.000Z');
    assert.equal(bucketsBetween(Date.UTC(2025, 10, 1), dec, 'month'), 14);
    assert.equal(bucketsBetween(Date.UTC(1970, 0, 1), Date.UTC(9999, 0, 1), 'year'), 8030);
  });

  it('keeps hours while they are few, and the finest unit within the bound when they are not', () => {
    const few = emptyView();
    add(few, dates(500, 2026, 1));
    assert.equal(few.timeUnit, 'hour');
    const many = emptyView();
    add(many, dates(30_000, 1, 9998));
    assert.ok(many.timeBuckets.size <= MAX_TIME_BUCKETS);
    assert.equal(many.timeUnit, 'year');
    const days = emptyView();
    add(days, dates(30_000, 2000, 40));
    assert.equal(days.timeUnit, 'day', '40 years of days are within the bound');
    const report = reportOfView(many);
    assert.equal(report.timeline.bucket, 'year');
    const sessions = report.timeline.points.reduce(
      (n, p) => n + Object.values(p.inbound).reduce((a, b) => a + b, 0),
      0,
    );
    assert.equal(sessions, 30_000, 'every session is in the timeline');
  });

  it('merges to what one pass gives, wherever the sessions are cut', () => {
    for (const [years, fromYear] of [
      [9998, 1],
      [40, 2000],
      [3, 2024],
    ] as const) {
      const starts = dates(30_000, fromYear, years);
      const one = emptyView();
      add(one, starts);
      for (const cut of [0, 1, 10_000, 29_999]) {
        const a = emptyView();
        const b = emptyView();
        add(a, starts.slice(0, cut));
        add(b, starts.slice(cut), cut);
        assert.equal(timeline(mergeViews(a, b)), timeline(one), `${years} years, cut at ${cut}`);
      }
    }
  });
});
