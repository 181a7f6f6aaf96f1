// Postfix protocol lists as tls_proto_mask_lims() reads them, and what OpenSSL 3 can negotiate with the result.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluatePostfixProtocols, negotiableProtocols, type TlsProtocol } from '../../src/policy/postfix-protocols.js';

const enabled = (spec: string): TlsProtocol[] => [...evaluatePostfixProtocols(spec).enabled];

describe('Postfix protocol lists', () => {
  it('reads exclusions (the pre-3.6 style)', () => {
    assert.deepEqual(enabled('!SSLv2, !SSLv3'), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('!SSLv2, !SSLv3, !TLSv1, !TLSv1.1'), ['TLSv1.2', 'TLSv1.3']);
  });

  it('reads inclusions: everything not listed is excluded', () => {
    assert.deepEqual(enabled('SSLv3, TLSv1'), ['SSLv3', 'TLSv1']);
    assert.deepEqual(enabled('TLSv1.2 TLSv1.3'), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('TLSv1.2, !TLSv1.2'), []);
  });

  it('reads floors and ceilings (Postfix 3.6+)', () => {
    assert.deepEqual(enabled('>=TLSv1'), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('>=TLSv1.2'), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('<=TLSv1.2'), ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2']);
    assert.deepEqual(enabled('>=TLSv1.1 <=TLSv1.2'), ['TLSv1.1', 'TLSv1.2']);
    assert.deepEqual(enabled('>=0x0303'), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('>=None'), ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    const spec = evaluatePostfixProtocols('>=TLSv1.2');
    assert.equal(spec.floor, 'TLSv1.2');
    assert.equal(spec.ceiling, null);
  });

  it('mixes styles and separators, case-insensitively', () => {
    assert.deepEqual(enabled('>=TLSv1, !TLSv1.1'), ['TLSv1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('!sslv2:!SSLV3:!tlsv1'), ['TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled('  !SSLv2 ,\t!SSLv3  '), ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(enabled(''), ['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
  });

  it('rejects the whole list on one unknown token, as Postfix does', () => {
    // The seed main.cf: the "# denying SSLv3 ..." comment is part of the value.
    const seed = evaluatePostfixProtocols(
      '!TLSv1, !SSLv2, # denying SSLv3 bars too many legit emails, so permitted for now.',
    );
    assert.equal(seed.valid, false);
    assert.deepEqual([...seed.enabled], []);
    assert.ok(seed.tokens.some((t) => t.text === '#' && t.kind === 'invalid'));
    assert.ok(seed.warnings.some((w) => w.includes('"#"')));
    assert.equal(evaluatePostfixProtocols('TLSv1.2, TLSv2').valid, false);
    assert.equal(evaluatePostfixProtocols('>=SSLv2').valid, false, 'SSLv2 is no protocol version number');
    assert.equal(evaluatePostfixProtocols('>=TLSv1.4').valid, false);
    assert.equal(evaluatePostfixProtocols('!>=TLSv1').valid, false);
  });

  it('warns when nothing is left', () => {
    const none = evaluatePostfixProtocols('>=TLSv1.3 <=TLSv1.2');
    assert.equal(none.valid, true);
    assert.equal(none.enabled.size, 0);
    assert.ok(none.warnings.some((w) => w.includes('no protocol version')));
  });
});

describe('OpenSSL 3 negotiable protocols', () => {
  const all = new Set<TlsProtocol>(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

  it('never offers SSLv2, and SSLv3 only when compiled in', () => {
    assert.deepEqual([...negotiableProtocols(all, 'server')], ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(
      [...negotiableProtocols(all, 'server', { sslv3: true })],
      ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'],
    );
  });

  it('keeps a server hole but reduces a client to its lowest contiguous range', () => {
    const holed = new Set<TlsProtocol>(['TLSv1', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual([...negotiableProtocols(holed, 'server')], ['TLSv1', 'TLSv1.2', 'TLSv1.3']);
    // `openssl s_client -no_tls1_1` against a TLS 1.0-1.3 server negotiates TLS 1.0.
    assert.deepEqual([...negotiableProtocols(holed, 'client')], ['TLSv1']);
    const ok = new Set<TlsProtocol>(['SSLv3', 'TLSv1.2', 'TLSv1.3']);
    assert.deepEqual([...negotiableProtocols(ok, 'client')], ['TLSv1.2', 'TLSv1.3'], 'SSLv3 is not compiled in');
  });
});
