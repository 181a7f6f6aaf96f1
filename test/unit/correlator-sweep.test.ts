// The idle TTL sweep is keyed to log time: it runs each time the log's clock enters a new period, so where it
// falls depends on timestamps only, never on how many observations came before (a census of a byte range that
// starts from the same state must sweep where one pass does: range-census.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Correlator, SWEEP_PERIOD_MS } from '../../src/correlate/correlator.js';
import { connectObs, disconnectObs, handshakeObs } from '../../src/dialects/observations.js';
import type { Observation, Session } from '../../src/model/types.js';

const T0 = Date.UTC(2026, 10, 20, 9, 0, 0);
const HOUR = 3_600_000;
const peer = { host: 'mx.example.net', ip: '192.0.2.7' };

function head(key: string, timeMs: number) {
  return { mta: 'postfix', service: 'smtpd', direction: 'inbound' as const, key, timeMs };
}

function run(observations: Observation[]): Session[] {
  const out: Session[] = [];
  const c = new Correlator((s) => out.push(s));
  for (const o of observations) c.observe(o);
  c.flush();
  return out;
}

describe('correlator idle sweep', () => {
  it('closes a session idle past the TTL once the log clock enters the next period, however few lines came', () => {
    const sessions = run([
      connectObs(head('a', T0), peer),
      handshakeObs(head('a', T0 + 1000), peer, 'TLSv1.2', 'ECDHE-RSA-AES256-GCM-SHA384', '256/256', 'Anonymous'),
      // One line of another process, more than the TTL and a sweep period later: the first session is swept.
      connectObs(head('b', T0 + HOUR + SWEEP_PERIOD_MS + 2000), { host: null, ip: '198.51.100.1' }),
      // Then the first process's disconnect: a session of its own, not the swept one's end.
      disconnectObs(head('a', T0 + HOUR + SWEEP_PERIOD_MS + 3000), peer, 'ok', 5),
    ]);
    const a = sessions.filter((s) => s.peer?.ip === peer.ip);
    assert.equal(a.length, 2);
    assert.equal(a[0]!.outcome, 'tls');
    assert.equal(a[0]!.endMs, T0 + 1000);
    assert.equal(a[1]!.startMs, T0 + HOUR + SWEEP_PERIOD_MS + 3000);
  });

  it('lets an `openOnly` disconnect end an open session, and start none once it was swept (review)', () => {
    const ending = (o: Observation) => {
      (o as { openOnly?: boolean }).openOnly = true;
      return o;
    };
    const open = run([
      connectObs(head('a', T0), { host: null, ip: peer.ip }),
      ending(disconnectObs(head('a', T0 + 1000), peer, 'unknown', null)),
    ]);
    assert.deepEqual(
      open.map((s) => [s.peer?.host, s.endMs]),
      [[peer.host, T0 + 1000]],
    );
    const swept = run([
      connectObs(head('a', T0), { host: null, ip: peer.ip }),
      connectObs(head('b', T0 + HOUR + SWEEP_PERIOD_MS + 2000), { host: null, ip: '198.51.100.1' }),
      ending(disconnectObs(head('a', T0 + HOUR + SWEEP_PERIOD_MS + 3000), peer, 'unknown', null)),
    ]);
    assert.equal(swept.filter((s) => s.peer?.ip === peer.ip).length, 1, 'no second session of a');
  });

  it('gives the same sessions whatever number of other processes log in between', () => {
    const own = (extra: number): Observation[] => {
      const list: Observation[] = [connectObs(head('a', T0), peer)];
      for (let i = 0; i < extra; i++) {
        list.push(connectObs(head(`x${i}`, T0 + 10 * 60_000), { host: null, ip: `203.0.113.${i % 250}` }));
      }
      // Within the TTL of the last line of `a`, but after many lines: no sweep closes it.
      list.push(disconnectObs(head('a', T0 + 50 * 60_000), peer, 'absent', 3));
      return list;
    };
    for (const extra of [0, 1, 4095, 4096, 9000]) {
      const a = run(own(extra)).filter((s) => s.peer?.ip === peer.ip);
      assert.equal(a.length, 1, `${extra} other lines`);
      assert.equal(a[0]!.outcome, 'plaintext');
      assert.equal(a[0]!.endMs, T0 + 50 * 60_000);
    }
  });
});
