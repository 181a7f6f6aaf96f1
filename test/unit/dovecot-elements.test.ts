// Dovecot's login elements are read in place (dovecot.ts, parseElements); this holds that reading to the plain
// one it replaced: split at `, `, then compare each element. Elements are drawn from what Dovecot writes, cut
// and glued at random, with commas, spaces and `>` where they make prefixes and ends ambiguous.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { elementsStart, type LoginElements, loginPrefixEnd, parseElements } from '../../src/dialects/dovecot.js';

const SSL_SECURITY = /^(\S+) with cipher (\S+) \((\d+\/\d+) bits\)/;

function reference(elements: readonly string[]): LoginElements {
  const out: LoginElements = { rip: null, session: null, tls: null, tlsError: null, secured: false, security: null };
  for (const e of elements) {
    if (e.startsWith('rip=')) out.rip = e.slice(4);
    else if (e.startsWith('session=<')) out.session = e.slice(9).replace(/>$/, '');
    else if (e === 'secured') out.secured = true;
    else if (e === 'TLS' || e.startsWith('TLS: ')) {
      out.tls = 'done';
      out.tlsError = e.length > 5 ? e.slice(5) : null;
    } else if (e === 'TLS handshaking' || e.startsWith('TLS handshaking: ')) {
      out.tls = 'handshaking';
      out.tlsError = e.length > 17 ? e.slice(17) : null;
    } else if (SSL_SECURITY.test(e) || e === '(proxied)') out.security = e;
  }
  return out;
}

const piece = fc.constantFrom(
  'user=<a@example.org>',
  'method=PLAIN',
  'rip=192.0.2.7',
  'rip=',
  'lip=192.0.2.10',
  'mpid=123',
  'session=<KEfS5ftHP8yfX0Ke>',
  'session=<',
  'session=<>',
  '>',
  'secured',
  'secure',
  'TLS',
  'TLS: ',
  'TLS: Connection closed',
  'TLS handshaking',
  'TLS handshaking: ',
  'TLS handshaking: SSL_accept() failed: error:0A000102',
  'TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)',
  'TLSv1.2 with cipher X (1/2 bits) and more',
  ' with cipher ',
  '(proxied)',
  ', ',
  ',',
  ' ',
  '',
);
const line = fc.array(piece, { maxLength: 10 }).map((parts) => parts.join(''));

describe('Dovecot login elements', () => {
  it('are read as splitting at ", " and comparing each element reads them', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 4 }), line, (before, text) => {
        const from = before.length;
        assert.deepEqual(parseElements(before + text, from), reference(text.split(', ')));
      }),
      { numRuns: 20000 },
    );
  });
});

describe('Dovecot elements start', () => {
  const ELEMENTS_START = /: (?=(?:user=<|method=|rip=|lip=|mpid=|lport=|rport=|session=<)[^,]*(?:, |$))/;
  const bit = fc.constantFrom(
    'Login',
    ': ',
    ':',
    ' ',
    ', ',
    ',',
    'user=<a@b>',
    'method=PLAIN',
    'rip=192.0.2.7',
    'lip=',
    'mpid=1',
    'lport=993',
    'rport=1',
    'session=<x>',
    'TLS',
    '(no auth attempts in 0 secs)',
    'x',
    '\n',
  );
  it('is where the regular expression it replaced finds them', () => {
    fc.assert(
      fc.property(fc.array(bit, { maxLength: 14 }), (parts) => {
        const text = parts.join('');
        assert.equal(elementsStart(text), ELEMENTS_START.exec(text)?.index ?? -1, JSON.stringify(text));
      }),
      { numRuns: 20000 },
    );
  });
});

describe('Dovecot elements start on a hostile line', () => {
  // Many candidates and one late comma: the replaced expression scanned to the comma once per candidate (0.6 s
  // for this line); elementsStart reads it once. Its answer is the expression's, which is too slow to ask here.
  it('answers for a 60 KB line of candidates', () => {
    assert.equal(elementsStart(`${': rip='.repeat(10_000)},x`), -1);
    assert.equal(elementsStart(`${': rip='.repeat(10_000)}, x`), 0);
  });
});

describe('Dovecot login prefix', () => {
  const SYSLOG_PREFIX = /^([a-z][a-z0-9]*)-login: /;
  it('is where the regular expression it replaced finds it', () => {
    const bit = fc.constantFrom('imap', 'pop3', 'x', '9', 'A', '-login: ', '-login:', '-', 'login', ': ', ' ', 'é');
    fc.assert(
      fc.property(fc.array(bit, { maxLength: 6 }), (parts) => {
        const text = parts.join('');
        const m = SYSLOG_PREFIX.exec(text);
        assert.equal(loginPrefixEnd(text), m ? m[1]!.length : -1, JSON.stringify(text));
      }),
      { numRuns: 10000 },
    );
  });
});
