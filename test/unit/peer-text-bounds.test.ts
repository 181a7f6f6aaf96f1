// What a peer keeps of log text is bounded (peer-table.ts MAX_HOST_CHARS, MAX_ADDRESS_CHARS, MAX_DETAIL_CHARS):
// test/fixtures/bad/long-names.log names a peer with a 2 KB host, a 400-character address and a 2 KB failure
// detail. 2,000 such peers with 30 KB names took 550 MiB and a 120 MB report before the bound.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerTable } from '../../src/aggregate/peer-table.js';
import { census } from '../../src/census/census.js';
import { buildReport } from '../../src/render/report-model.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { fixturePath } from '../helpers/paths.js';

describe('peer text', () => {
  it('keeps at most 255 characters of a name and an address and 300 of a failure detail', async () => {
    const r = await census(resolveInputs([fixturePath('bad/long-names.log')]), { timezone: 'UTC' });
    const report = buildReport(r.view, r.diagnostics, { sinceMs: null, untilMs: null });
    const [failure] = report.inbound.failures;
    assert.ok(failure, 'the failed handshake is reported');
    assert.equal(failure.peer.host?.length, 255);
    assert.ok(failure.peer.host?.startsWith('h-aaa') && failure.peer.host.endsWith('…'));
    assert.equal(failure.peer.ip.length, 255);
    assert.ok(failure.peer.ip.startsWith('2001:db8::fff'));
    assert.equal(failure.lastDetail?.length, 300);
    assert.ok(failure.lastDetail?.startsWith('error:0A000102:SSL routines::unsupported protocol'));
    assert.equal(failure.reasons['unsupported-protocol'], 1);
    // The peer is found by the address as logged.
    const logged = `2001:db8::${'f'.repeat(400)}`;
    assert.equal(r.view.inbound.peers.get(logged)?.failed, 1);
  });

  it('never cuts between the halves of a surrogate pair', () => {
    const table = new PeerTable();
    const host = `${'a'.repeat(253)}\u{1F600}tail.example`;
    table.slot({ host, ip: '192.0.2.1' });
    const kept = table.get('192.0.2.1')!.peer.host!;
    assert.equal(kept, `${'a'.repeat(253)}…`);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(kept), 'no lone high surrogate');
  });
});
