// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix `$name` syntax in plain strings is the subject under test.
// master.cf parsing (master-cf.ts): entries, every form of `-o`, what a service's main.cf and log name are. The
// fixtures are Debian's own master.cf of Postfix 3.7.11 and hand-made ones; where Postfix is installed (CI), the
// overrides are also checked against what the real `postconf -P` reads from the same files.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseMainCf } from '../../src/policy/main-cf.js';
import {
  censusServiceName,
  type MasterCf,
  parseMasterCf,
  serviceMainCf,
  serviceProgram,
} from '../../src/policy/master-cf.js';
import { fixturePath } from '../helpers/paths.js';

function fixture(name: string): MasterCf {
  return parseMasterCf(fs.readFileSync(fixturePath('master-cf', name), 'utf8'), { source: name });
}

function entry(cf: MasterCf, name: string, type: string) {
  const e = cf.services.find((s) => s.name === name && s.type === type);
  assert.ok(e, `${name}/${type} parsed`);
  return e;
}

const overrides = (cf: MasterCf, name: string, type: string) =>
  Object.fromEntries(entry(cf, name, type).overrides.map((o) => [o.name, o.value]));

describe("master.cf: Debian's Postfix 3.7.11 file", () => {
  const cf = fixture('debian-3.7.11.master.cf');

  it('reads the active entries only (the commented submission and smtps are not services)', () => {
    assert.deepEqual(cf.diagnostics, []);
    assert.equal(cf.services.length, 31); // as `postconf -M` lists them
    assert.deepEqual(
      cf.services.filter((s) => s.command === 'smtpd' || s.command === 'smtp').map((s) => `${s.name}/${s.type}`),
      ['smtp/inet', 'smtp/unix', 'relay/unix'],
    );
    assert.equal(entry(cf, 'smtp', 'inet').line, 12);
  });

  it('reads a continuation line as part of its entry', () => {
    assert.deepEqual(overrides(cf, 'relay', 'unix'), { syslog_name: 'postfix/$service_name' });
    assert.equal(entry(cf, 'relay', 'unix').lastLine, entry(cf, 'relay', 'unix').line + 1);
  });

  it('names the sessions of each service as the census does', () => {
    const main = parseMainCf('');
    const name = (n: string, t: string) =>
      censusServiceName(serviceProgram(serviceMainCf(main, entry(cf, n, t)), entry(cf, n, t)));
    assert.equal(name('smtp', 'inet'), 'smtpd');
    assert.equal(name('smtp', 'unix'), 'smtp');
    assert.equal(name('relay', 'unix'), 'relay/smtp');
    assert.equal(name('lmtp', 'unix'), 'lmtp');
  });
});

describe('master.cf: the forms of -o', () => {
  const cf = fixture('forms.master.cf');

  it('reads the short form and the long form with and without spaces', () => {
    assert.deepEqual(overrides(cf, 'submission', 'inet'), {
      syslog_name: 'postfix/$service_name',
      smtpd_tls_security_level: 'encrypt',
      smtpd_tls_mandatory_protocols: '>=TLSv1.2',
      smtpd_tls_mandatory_ciphers: 'high',
      smtpd_client_restrictions: '$mua_client_restrictions',
    });
    assert.deepEqual(overrides(cf, 'submissions', 'inet'), {
      syslog_name: 'postfix/submissions',
      smtpd_tls_wrappermode: 'yes',
      smtpd_sasl_security_options: 'noanonymous, noplaintext',
    });
  });

  it('keeps the later of two entries with the same name and type, and says so', () => {
    const replaced = fixture('replaced.master.cf');
    assert.deepEqual(overrides(replaced, '127.0.0.1:10025', 'inet'), { syslog_name: 'postfix/filtered' });
    assert.equal(replaced.services.length, 1);
    assert.deepEqual(
      replaced.diagnostics.map((d) => [d.severity, d.line]),
      [['warning', 4]],
    );
    assert.deepEqual(cf.diagnostics, []);
  });

  it("applies a service's overrides to main.cf, $service_name and every value that refers to one included", () => {
    const main = parseMainCf(
      'mua_client_restrictions = permit_sasl_authenticated, reject\nsmtpd_tls_security_level = may\nsmtp_tls_exclude_ciphers = $smtpd_tls_exclude_ciphers\nsmtpd_tls_exclude_ciphers = aNULL\n',
    );
    const submission = serviceMainCf(main, entry(cf, 'submission', 'inet'));
    assert.equal(submission.parameters.get('smtpd_tls_security_level')?.expanded, 'encrypt');
    assert.equal(submission.parameters.get('syslog_name')?.expanded, 'postfix/submission');
    assert.equal(submission.parameters.get('smtpd_client_restrictions')?.expanded, 'permit_sasl_authenticated, reject');
    assert.deepEqual(submission.diagnostics, []);
    // main.cf itself is left as it was.
    assert.equal(main.parameters.get('smtpd_tls_security_level')?.expanded, 'may');
    const filtered = serviceMainCf(
      main,
      parseMasterCf('x inet n - n - - smtpd -o smtpd_tls_exclude_ciphers=RC4\n').services[0]!,
    );
    assert.equal(filtered.parameters.get('smtp_tls_exclude_ciphers')?.expanded, 'RC4');
  });

  it('logs as syslog_name/daemon: $service_name, a plain name, the default and a multi-instance name', () => {
    const program = (main: string, n: string, t: string) =>
      serviceProgram(serviceMainCf(parseMainCf(main), entry(cf, n, t)), entry(cf, n, t));
    assert.equal(program('', 'submission', 'inet'), 'postfix/submission/smtpd');
    assert.equal(program('', 'submissions', 'inet'), 'postfix/submissions/smtpd');
    assert.equal(program('', 'smtp', 'inet'), 'postfix/smtpd');
    assert.equal(program('', 'relay', 'unix'), 'postfix/relay/smtp');
    assert.equal(program('multi_instance_name = postfix-out\n', 'smtp', 'unix'), 'postfix-out/smtp');
    assert.equal(program('syslog_name = mail\n', 'smtp', 'inet'), 'mail/smtpd');
    assert.equal(censusServiceName('postfix-out/smtp'), 'smtp');
    assert.equal(censusServiceName('postfix/submission/smtpd'), 'submission/smtpd');
  });

  it("reads -o as the daemon's getopt() does: glued to its value, bundled with flags; braces glued to -o are an error", () => {
    const cf = parseMasterCf(
      [
        'a inet n - y - - smtpd -osmtpd_tls_security_level=encrypt',
        'b inet n - y - - smtpd -vo smtpd_tls_security_level=encrypt -Dv -o syslog_name=postfix/b',
        'c inet n - y - - smtpd -o{smtpd_tls_security_level=encrypt}',
        'd unix - n n - - pipe flags=F user=x argv=/bin/true -o not_an_option=1',
        '',
      ].join('\n'),
    );
    assert.deepEqual(overrides(cf, 'a', 'inet'), { smtpd_tls_security_level: 'encrypt' });
    assert.deepEqual(overrides(cf, 'b', 'inet'), { smtpd_tls_security_level: 'encrypt', syslog_name: 'postfix/b' });
    assert.deepEqual(overrides(cf, 'c', 'inet'), {});
    assert.deepEqual(overrides(cf, 'd', 'unix'), {}, 'options end at the first word that is not one');
    assert.deepEqual(
      cf.diagnostics.map((d) => [d.severity, d.line]),
      [['error', 3]],
    );
    assert.match(cf.diagnostics[0]!.message, /braces as part of the name/);
  });

  it('knows the read-only $service_name and $process_name, in main.cf too', () => {
    const main = parseMainCf('syslog_name = postfix/$service_name\n');
    assert.deepEqual(main.diagnostics, []);
    const sub = parseMasterCf(
      'submission inet n - y - - smtpd\nx inet n - y - - smtpd -o syslog_name=mail/$process_name\n',
    );
    assert.equal(
      serviceProgram(serviceMainCf(main, entry(sub, 'submission', 'inet')), entry(sub, 'submission', 'inet')),
      'postfix/submission/smtpd',
    );
    assert.equal(
      serviceProgram(serviceMainCf(main, entry(sub, 'x', 'inet')), entry(sub, 'x', 'inet')),
      'mail/smtpd/smtpd',
    );
  });

  it('reports an error in an override value at its entry', () => {
    const bad = parseMasterCf('sub inet n - n - - smtpd -o smtpd_tls_protocols=${broken\n').services[0]!;
    const d = serviceMainCf(parseMainCf(''), bad).diagnostics;
    assert.equal(d.length, 1);
    assert.equal(d[0]!.severity, 'error');
    assert.equal(d[0]!.line, 1);
    assert.equal(d[0]!.parameter, 'smtpd_tls_protocols');
  });
});

describe('master.cf: what Postfix stops on', () => {
  const cf = fixture('broken.master.cf');

  it('gives each bad line a diagnostic and keeps the good entries', () => {
    assert.deepEqual(
      cf.services.map((s) => s.name),
      ['smtp', 'sub', 'sub2'],
    );
    assert.deepEqual(
      cf.diagnostics.map((d) => [d.severity, d.line]),
      [
        ['warning', 1],
        ['error', 4],
        ['error', 5],
        ['error', 6],
        ['error', 7],
      ],
    );
    assert.match(cf.diagnostics[1]!.message, /8 fields/);
    assert.match(cf.diagnostics[2]!.message, /unknown service type "socket"/);
    assert.match(cf.diagnostics[3]!.message, /not name=value/);
    assert.match(cf.diagnostics[4]!.message, /without a setting/);
  });

  it('never throws on arbitrary text', () => {
    for (const text of ['', '\n\n', '{', '}}}} {{{', 'a b c d e f g {h', '\u0000\r\n\t-o', 'x '.repeat(10_000)]) {
      assert.doesNotThrow(() => parseMasterCf(text));
    }
  });
});

// The real postconf (Postfix 3.7 in CI) reads the same overrides from the same files.
const postconf = spawnSync('postconf', ['-d', 'mail_version'], { encoding: 'utf8' });
describe('master.cf: as the real postconf -P reads it', {
  skip: postconf.status !== 0 && 'postconf not installed',
}, () => {
  for (const name of ['debian-3.7.11.master.cf', 'forms.master.cf']) {
    it(name, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-master-cf-'));
      try {
        fs.writeFileSync(path.join(dir, 'main.cf'), 'mua_client_restrictions = permit\n');
        fs.copyFileSync(fixturePath('master-cf', name), path.join(dir, 'master.cf'));
        const r = spawnSync('postconf', ['-c', dir, '-P'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const real = r.stdout
          .split('\n')
          .filter((l) => l !== '')
          .sort();
        const ours = fixture(name)
          .services.flatMap((s) => {
            const last = new Map(s.overrides.map((o) => [o.name, o.value]));
            return [...last].map(([k, v]) => `${s.name}/${s.type}/${k} = ${v}`);
          })
          .sort();
        assert.deepEqual(ours, real);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
