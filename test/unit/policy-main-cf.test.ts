// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix `${name}` syntax in plain strings is the subject under test.
// main.cf parsing as Postfix does it; the fixtures are also run through the real `postconf` (Postfix 3.7 in CI)
// when it is installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  expandPostfixValue,
  type MainCf,
  POSTFIX_37_TLS_DEFAULTS,
  parseMainCf,
  resolveParameter,
} from '../../src/policy/main-cf.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/main-cf');

function fixture(name: string): MainCf {
  return parseMainCf(fs.readFileSync(path.join(FIXTURES, name), 'utf8'), { source: name });
}

function value(cf: MainCf, name: string): { raw: string; expanded: string | null; line: number } | undefined {
  const p = cf.parameters.get(name);
  return p ? { raw: p.raw, expanded: p.expanded, line: p.line } : undefined;
}

describe('main.cf: logical lines', () => {
  const cf = fixture('continuation.cf');

  it('joins continuation lines across comment and empty lines', () => {
    assert.deepEqual(value(cf, 'smtpd_banner'), {
      raw: '$myhostname ESMTP    first continuation    ... and neither does an empty line.',
      expanded: ' ESMTP    first continuation    ... and neither does an empty line.',
      line: 2,
    });
    assert.equal(cf.parameters.get('smtpd_banner')?.lastLine, 6);
  });

  it("keeps a '#' after a value as part of the value", () => {
    assert.equal(value(cf, 'smtp_tls_exclude_ciphers')?.raw, "aNULL, # a '#' after a value is part of the value");
  });

  it('drops indented comment lines inside a continuation', () => {
    assert.equal(value(cf, 'smtpd_tls_protocols')?.raw, '!SSLv2,\t!SSLv3 : !TLSv1\t!TLSv1.1');
  });

  it('lets a later definition win, with a warning naming the earlier line', () => {
    assert.equal(value(cf, 'smtpd_tls_loglevel')?.raw, '2');
    assert.equal(cf.overridden.length, 1);
    assert.equal(cf.overridden[0]?.line, 12);
    assert.ok(cf.diagnostics.some((d) => d.line === 13 && /overriding earlier entry from line 12/.test(d.message)));
  });

  it('ignores text before any parameter that starts with whitespace, and reports lines without "="', () => {
    const broken = fixture('broken.cf');
    assert.ok(broken.diagnostics.some((d) => d.line === 2 && /must not start with whitespace/.test(d.message)));
    assert.ok(broken.diagnostics.some((d) => d.line === 3 && d.severity === 'error' && /missing '='/.test(d.message)));
    assert.equal(broken.parameters.has('starts_with_whitespace'), false);
    assert.equal(value(broken, 'smtpd_tls_security_level')?.raw, 'may');
  });

  it('reads `postconf -n` output and handles CRLF and a missing final newline', () => {
    const cf2 = parseMainCf('smtpd_tls_security_level = may\r\nsmtp_tls_loglevel = 1');
    assert.equal(value(cf2, 'smtpd_tls_security_level')?.raw, 'may');
    assert.equal(value(cf2, 'smtp_tls_loglevel')?.raw, '1');
    assert.equal(parseMainCf('a=b').parameters.get('a')?.raw, 'b');
    assert.equal(parseMainCf('a =').parameters.get('a')?.raw, '');
  });
});

describe('main.cf: $name expansion', () => {
  const cf = fixture('expansion.cf');

  it('expands $name, ${name} and $(name) recursively and independently of order', () => {
    assert.equal(value(cf, 'smtp_tls_exclude_ciphers')?.expanded, 'aNULL, RC4, 3DES');
    assert.equal(value(cf, 'smtp_tls_ciphers')?.expanded, 'high');
    assert.equal(value(cf, 'smtpd_tls_mandatory_exclude_ciphers')?.expanded, 'aNULL, RC4, 3DES MD5');
  });

  it('supports the conditional and logical forms and $$', () => {
    assert.equal(value(cf, 'smtp_helo_name')?.expanded, 'known fallback $HOME');
    assert.equal(value(cf, 'smtpd_tls_mandatory_ciphers')?.expanded, 'high');
  });

  it('expands undefined names to nothing, with a warning', () => {
    assert.equal(value(cf, 'smtp_tls_mandatory_exclude_ciphers')?.expanded, '');
    assert.ok(cf.diagnostics.some((d) => /undefined parameter: undefined_parameter_here/.test(d.message)));
    assert.ok(cf.diagnostics.some((d) => /undefined parameter: no_such_parameter/.test(d.message)));
  });

  it('uses the Postfix 3.7 defaults for parameters the file does not set', () => {
    assert.equal(value(cf, 'smtp_tls_loglevel')?.expanded, '0');
    const level = resolveParameter(cf, 'smtpd_tls_protocols');
    assert.deepEqual(level, {
      name: 'smtpd_tls_protocols',
      raw: '>=TLSv1',
      expanded: '>=TLSv1',
      origin: 'default',
      line: null,
    });
    assert.equal(resolveParameter(cf, 'smtp_tls_ciphers').origin, 'main.cf');
    assert.equal(resolveParameter(cf, 'no_such_parameter').origin, 'unset');
    assert.equal(POSTFIX_37_TLS_DEFAULTS.tls_medium_cipherlist, 'aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH');
  });

  it('fails where Postfix stops with "macro processing error"', () => {
    const broken = fixture('broken.cf');
    for (const name of ['smtpd_tls_ciphers', 'smtp_tls_ciphers', 'smtpd_tls_mandatory_ciphers']) {
      assert.equal(value(broken, name)?.expanded, null, name);
      assert.ok(
        broken.diagnostics.some((d) => d.parameter === name && d.severity === 'error'),
        name,
      );
    }
  });

  it('implements mac_expand() details', () => {
    const lookup = (name: string) => ({ a: 'A', empty: '', ref: '$a', self: '$self' })[name];
    const expand = (text: string) => expandPostfixValue(text, lookup);
    assert.equal(expand('$a$a ${a}x $(a)').value, 'AA Ax A');
    assert.equal(expand('${empty?yes}|${empty:no}|${a?yes}|${a:no}').value, '|no|yes|');
    assert.equal(expand('${a?{ T }:{ F }}|${empty?{T}:{F}}').value, ' T |F');
    assert.equal(expand('${{$a} != {A} ? {ne} : {eq}}').value, 'eq');
    assert.equal(expand('$ref').value, 'A');
    assert.equal(expand('a$$b').value, 'a$b');
    assert.match(expand('$self').errors[0] ?? '', /nesting/);
    assert.match(expand('${a').errors[0] ?? '', /truncated/);
    assert.match(expand('x$').errors[0] ?? '', /empty macro name/);
    assert.match(expand('${a-b}').errors[0] ?? '', /attribute name syntax error/);
    // Whitespace around the name, as postconf -x of Postfix 3.7.11 expands it (review); around the operator it
    // stays part of a plain-text operand (postconf -h only trims the ends of what it prints).
    assert.deepEqual(expand('${ a }|${a }|${ a}|$( a )').value, 'A|A|A|A');
    assert.equal(expand('[${a ? yes}][${ empty : no}][${ a :no}]').value, '[ yes][ no][]');
    assert.equal(expand('[${ a ? {yes} : {no} }][${ empty ? {yes} : {no} }]').value, '[yes][no]');
    assert.equal(expand('[${ {$a} == {A} ? {eq} : {ne} }]').value, '[eq]');
    assert.deepEqual(expand('${ nope }'), { value: '', errors: [], undefinedNames: ['nope'] });
    assert.match(expand('${na me}').errors[0] ?? '', /attribute name syntax error at: "\.\.\.na>>> me"/);
    assert.match(expand('${ na me}').errors[0] ?? '', /syntax error at: "\.\.\. na>>> me"/);
    assert.match(expand('${{a} = {b}}').errors[0] ?? '', /"==" or "!="/);
    // A definition that doubles ten times over ten levels (10^10 characters): an error, not a crash (review).
    const bomb = (name: string) => {
      const level = Number(name.slice(2));
      if (!name.startsWith('v_') || Number.isNaN(level)) return undefined;
      return level >= 10 ? 'lol' : `\${v_${level + 1}}`.repeat(10);
    };
    assert.match(expandPostfixValue('$v_0', bomb).errors[0] ?? '', /expands to more than 64 KiB/);
    // The same tree over empty values: no text, ten billion references (a second review: it hung).
    const empty = (name: string) => (name === 'v_10' ? '' : bomb(name));
    assert.match(expandPostfixValue('$v_0', empty).errors[0] ?? '', /expands more than 100,000 references/);
  });
});

const postconf = spawnSync('postconf', ['-d', 'mail_version'], { encoding: 'utf8' });
const NO_POSTCONF = postconf.error || postconf.status !== 0 ? 'postconf not installed: Postfix oracle skipped' : false;

describe('main.cf: oracle `postconf -c DIR -xh`', { skip: NO_POSTCONF }, () => {
  // postconf knows every Postfix parameter, so only those are compared; it prints values with runs of whitespace
  // folded to one space, and expands names this tool has no defaults for (e.g. $mydomain), so those are skipped.
  const collapse = (text: string) => text.replace(/\s+/g, ' ').trim();
  const knownNames = new Set(
    spawnSync('postconf', ['-d'], { encoding: 'utf8', maxBuffer: 16 << 20 })
      .stdout.split('\n')
      .map((line) => line.split(' = ')[0] ?? ''),
  );
  for (const file of ['seed-main.cf', 'continuation.cf', 'expansion.cf', 'levels-may.cf', 'levels-unusual.cf']) {
    it(`reads ${file} like postconf`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-postconf-'));
      try {
        fs.copyFileSync(path.join(FIXTURES, file), path.join(dir, 'main.cf'));
        fs.writeFileSync(path.join(dir, 'master.cf'), '');
        // Postfix waits (up to ~2 s) for a main.cf modified this very second to settle; date it back.
        const past = new Date(Date.now() - 60_000);
        fs.utimesSync(path.join(dir, 'main.cf'), past, past);
        const cf = fixture(file);
        const names = [...cf.parameters.keys()].filter((name) => knownNames.has(name));
        assert.ok(names.length > 0);
        // One value per line, in argument order.
        const run = (flag: string) =>
          spawnSync('postconf', ['-c', dir, flag, ...names], { encoding: 'utf8' }).stdout.split('\n');
        const raw = run('-h');
        const expanded = run('-xh');
        names.forEach((name, i) => {
          const parameter = cf.parameters.get(name);
          assert.ok(parameter);
          assert.equal(collapse(parameter.raw), collapse(raw[i] ?? ''), `${file}: raw ${name}`);
          if (/\$\{?(myhostname|mydomain|myorigin)\b/.test(parameter.raw)) return;
          assert.equal(collapse(parameter.expanded ?? ''), collapse(expanded[i] ?? ''), `${file}: expanded ${name}`);
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('has the defaults of the installed Postfix, when it is 3.7', (t) => {
    const version = postconf.stdout.split('=')[1]?.trim() ?? '';
    if (!version.startsWith('3.7')) {
      t.skip(`installed Postfix is ${version}, defaults are those of 3.7`);
      return;
    }
    for (const [name, expected] of Object.entries(POSTFIX_37_TLS_DEFAULTS)) {
      const actual = spawnSync('postconf', ['-dh', name], { encoding: 'utf8' }).stdout.trim();
      assert.equal(actual, expected, name);
    }
  });
});
