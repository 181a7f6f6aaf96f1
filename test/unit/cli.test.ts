// The command line as a user meets it: exit codes, one-line errors with a hint and no stack trace, stdin,
// the default command, and a truncated .gz that still gives a report.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { VERDICTS } from '../../src/policy/whatif.js';
import { fixturePath, ROOT } from '../helpers/paths.js';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const MAILLOG = fixturePath('corpus/postfix/maillog');

function run(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs the CLI with its stdout read by nobody (`tlscensus … | head`, head gone): the exit code. */
function runClosedStdout(args: string[]): Promise<number | null> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.stdout.destroy(); // every write of the child then fails with EPIPE
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

function assertOneLineError(err: string, pattern: RegExp) {
  const lines = err.trim().split('\n');
  assert.match(lines[0] ?? '', pattern);
  assert.ok(!/\n\s+at /.test(err), `no stack trace: ${err}`);
}

describe('cli', () => {
  it('runs report as the default command', () => {
    const r = run([MAILLOG, '--format', 'json']);
    assert.equal(r.code, 0);
    const j = JSON.parse(r.out) as { schema: string; inbound: { totals: { sessions: number } } };
    assert.equal(j.schema, 'tlscensus/report@1');
    assert.equal(j.inbound.totals.sessions, 31);
  });

  it('reads stdin with -', () => {
    const r = run(['report', '-', '--format', 'json', '--year', '2026'], fs.readFileSync(MAILLOG));
    assert.equal(r.code, 0);
    assert.equal((JSON.parse(r.out) as { outbound: { totals: { tls: number } } }).outbound.totals.tls, 2);
  });

  it('reads gzip on stdin, told by its magic bytes (review: it said no line came from a mail server)', () => {
    const r = run(['report', '-', '--format', 'json', '--year', '2026'], zlib.gzipSync(fs.readFileSync(MAILLOG)));
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { outbound: { totals: { tls: number } } }).outbound.totals.tls, 2);
  });

  it('keeps what a damaged gzip on stdin held, on one thread and on two (review)', () => {
    const gz = zlib.gzipSync(fs.readFileSync(MAILLOG));
    const cut = gz.subarray(0, Math.floor(gz.length * 0.8));
    const counts = ['1', '2'].map((threads) => {
      const r = run(['report', '-', '--format', 'json', '--year', '2026', '--threads', threads], cut);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, /gzip data ends early/);
      return (JSON.parse(r.out) as { coverage: { lines: number } }).coverage.lines;
    });
    assert.equal(counts[0], counts[1]);
    assert.ok(counts[0]! > 100, `${counts[0]} lines`);
  });

  it('ends the table with the coverage line and prints no colour when not on a terminal', () => {
    const r = run([MAILLOG]);
    assert.equal(r.code, 0);
    assert.match(r.out.trim().split('\n').at(-1) ?? '', /^coverage: 225 lines · .* 0 malformed/);
    assert.ok(!r.out.includes('\x1b['));
  });

  it('explains a bad flag value in one line, with a hint, exit 2', () => {
    const r = run([MAILLOG, '--since', 'yesterday']);
    assert.equal(r.code, 2);
    assertOneLineError(r.err, /^error: --since "yesterday" is not a time/);
    assert.match(r.err, /^hint: /m);
    const f = run([MAILLOG, '--format', 'pdf']);
    assert.equal(f.code, 2);
    assertOneLineError(f.err, /^error: option .*--format.* argument 'pdf' is invalid/);
    // What was typed is quoted back with its escape sequences shown, not run (review).
    const esc = run([MAILLOG, '--direction', '\x1b[2J']);
    assert.equal(esc.code, 2);
    assert.ok(!esc.err.includes('\x1b') && esc.err.includes('\\x1b[2J'), esc.err);
  });

  it('refuses impossible times, years, offsets and durations in one line, exit 2 (review)', () => {
    const cases: [string[], RegExp][] = [
      [['--since', '2026-13-45'], /^error: --since "2026-13-45" is not a date on the calendar/],
      [['--since', '2026-02-30'], /^error: --since "2026-02-30" is not a date on the calendar/],
      [['--until', '2026-02-28T24:00'], /^error: --until "2026-02-28T24:00" is not a date on the calendar/],
      [['--since', '999999999999d'], /^error: --since "999999999999d" is not between 1970 and 9999/],
      [['--year', '0000'], /^error: --year "0000" is not a year of mail logs/],
      [['--timezone', '+25:00'], /^error: time zone offset out of range: \+25:00/],
      [['--timezone', '+02:99'], /^error: time zone offset out of range/],
    ];
    for (const [flags, pattern] of cases) {
      const r = run([MAILLOG, ...flags]);
      assert.equal(r.code, 2, flags.join(' '));
      assertOneLineError(r.err, pattern);
    }
    assert.equal(run([MAILLOG, '--since', '2024-02-29', '--timezone', '-12:00']).code, 0);
    const trend = run(['trend', '--history', path.join(os.tmpdir(), 'none.db'), '--since', '3000000d']);
    assert.equal(trend.code, 2);
    assertOneLineError(trend.err, /is not between 1970 and 9999/);
  });

  it('watch refuses what it cannot follow: standard input, a directory, a pattern; and timers past 24 days', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-cli-'));
    const cases: [string[], RegExp][] = [
      [['watch', '-'], /^error: watch cannot follow standard input/],
      [['watch', dir], /^error: watch follows files, and .* is a directory/],
      [['watch', path.join(dir, '*.log')], /^error: watch follows files by name, not patterns/],
      [['watch', path.join(dir, 'mail.log'), '--interval', '1000h'], /^error: --interval "1000h" is not a duration/],
    ];
    for (const [args, pattern] of cases) {
      const r = run([...args, '--textfile', path.join(dir, 'tls.prom')]);
      assert.equal(r.code, 2, args.join(' '));
      assertOneLineError(r.err, pattern);
    }
  });

  it('names a missing file, exit 4', () => {
    const r = run(['report', '/nonexistent/maillog']);
    assert.equal(r.code, 4);
    assertOneLineError(r.err, /^error: no such file or directory: \/nonexistent\/maillog/);
  });

  it('says a log it may not read is unreadable, exit 4, not an empty census (review)', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-cli-denied-'));
    fs.chmodSync(dir, 0o755);
    const p = path.join(dir, 'mail.log');
    fs.copyFileSync(MAILLOG, p);
    fs.chmodSync(p, 0o600);
    // As root every file is readable: run as nobody then.
    const asRoot = process.getuid?.() === 0;
    if (asRoot && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status !== 0) {
      t.skip('root without runuser');
      return;
    }
    const cmd = (args: string[]) => {
      const argv = [process.execPath, CLI, ...args];
      const r = asRoot
        ? spawnSync('runuser', ['-u', 'nobody', '--', ...argv], { encoding: 'utf8' })
        : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return { code: r.status, err: r.stderr };
    };
    for (const args of [[p], ['audit', '--main-cf', '/dev/null', p], ['whatif', '--min-protocol', 'TLSv1.2', p]]) {
      const r = cmd(args);
      assert.equal(r.code, 4, r.err);
      assertOneLineError(r.err, /^error: cannot read .*mail\.log: permission denied/);
      assert.match(r.err, /hint: run as a member of the group that owns the logs/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('does not take any log with Exim-like stamps for Exim (dpkg.log), nor fit a policy to no SMTP (review)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-cli-dpkg-'));
    // Lines of a real /var/log/dpkg.log (Debian 12).
    const p = path.join(dir, 'dpkg.log');
    fs.writeFileSync(
      p,
      [
        '2024-06-10 12:41:08 startup archives unpack',
        '2024-06-10 12:41:08 install libssl3:amd64 <none> 3.0.13-1~deb12u1',
        '2024-06-10 12:41:08 status half-installed libssl3:amd64 3.0.13-1~deb12u1',
        '2024-06-10 12:41:09 status unpacked libssl3:amd64 3.0.13-1~deb12u1',
        '2024-06-10 12:41:09 configure libssl3:amd64 3.0.13-1~deb12u1 <none>',
        '2024-06-10 12:41:09 status installed libssl3:amd64 3.0.13-1~deb12u1',
        '',
      ].join('\n'),
    );
    const r = run([p]);
    assert.equal(r.code, 4, r.err);
    assertOneLineError(r.err, /^error: none of the first 6 lines comes from a mail server/);
    // An Exim mainlog whose first lines carry only message ids is still Exim's.
    const exim = path.join(dir, 'mainlog');
    fs.writeFileSync(
      exim,
      '2026-11-27 18:59:19 1xX1AF-0007sA-2D Completed\n2026-11-27 18:59:19 [123] 1xX1AF-0007sA-2D Completed\n',
    );
    assert.equal(run([exim]).code, 0);
    // audit of a log with no SMTP session (IMAP only): findings, no policy fitted to nothing.
    const imap = path.join(dir, 'imap.log');
    fs.writeFileSync(
      imap,
      'Nov 20 10:00:00 mx dovecot: imap-login: Login: user=<a>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, mpid=1, TLS, session=<x>\n',
    );
    const audit = run(['audit', '--main-cf', fixturePath('main-cf/audit-clean.cf'), imap, '--year', '2026']);
    assert.equal(audit.code, 0, audit.err);
    assert.match(audit.out, /No SMTP session in the logs read: no policy is fitted to them\./);
    assert.ok(!/would break/.test(audit.out));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says in one line that its output could not be written (a full disk), exit 3 (review)', (t) => {
    if (!fs.existsSync('/dev/full')) {
      t.skip('no /dev/full');
      return;
    }
    const full = fs.openSync('/dev/full', 'w');
    try {
      for (const args of [[MAILLOG], ['peers', MAILLOG, '--format', 'json']]) {
        const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
        assert.equal(r.status, 3, r.stderr);
        assertOneLineError(r.stderr, /^error: the output could not be written \(ENOSPC/);
      }
    } finally {
      fs.closeSync(full);
    }
  });

  it('prints the report of a truncated .gz with a warning and exit 3', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-cli-'));
    const gz = zlib.gzipSync(fs.readFileSync(MAILLOG));
    const p = path.join(dir, 'maillog.1.gz');
    fs.writeFileSync(p, gz.subarray(0, gz.length - 200));
    const r = run([p, '--year', '2026']);
    assert.equal(r.code, 3);
    assert.match(r.out, /^INBOUND/m);
    assert.match(r.err, /warning: .*maillog\.1\.gz: gzip data ends early \(truncated at compressed byte \d+/);
  });

  it('keeps its exit code when the reader of stdout has gone (EPIPE forced 0) (review)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-cli-'));
    const gz = zlib.gzipSync(fs.readFileSync(MAILLOG));
    const p = path.join(dir, 'maillog.1.gz');
    fs.writeFileSync(p, gz.subarray(0, gz.length - 200));
    assert.equal(await runClosedStdout([p, '--year', '2026', '-f', 'json']), 3);
    assert.equal(await runClosedStdout([p, '--year', '2026']), 3);
    // audit: an error-severity finding (a log is no main.cf).
    assert.equal(await runClosedStdout(['audit', '--main-cf', MAILLOG]), 5);
    assert.equal(await runClosedStdout([MAILLOG]), 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says which --service names matched no session instead of an all-zero report alone (review)', () => {
    const ok = run([MAILLOG, '--service', 'smtpd', '-f', 'json']);
    assert.equal(ok.code, 0);
    assert.doesNotMatch(ok.err, /matched no session/);
    const typo = run([MAILLOG, '--service', 'smtpd,submision', '-f', 'json']);
    assert.equal(typo.code, 0);
    assert.match(typo.err, /^note: --service submision matched no session; .*master\.cf name \(submission\)/m);
    // What the log has instead, whatever --service kept (the real Postfix instance's listeners and its client).
    assert.match(typo.err, /; the log's services: relayin\/smtpd, smtp, smtpd, smtps\/smtpd, strict\/smtpd$/m);
    assert.equal(run([MAILLOG, '--service', 'submision', '-q']).err, '');
  });

  it('says in --help what each command does with its arguments (review)', () => {
    // audit reads no log unless given one.
    const audit = run(['audit', '--help']).out.replace(/\s+/g, ' ');
    assert.doesNotMatch(audit, /default: the system mail log/);
    assert.match(audit, /none: main\.cf is linted alone, with no proposal/);
    assert.match(run(['report', '--help']).out.replace(/\s+/g, ' '), /default: the system mail log/);
    // whatif --fail-on: every verdict it accepts.
    const failOn = /--fail-on <verdicts>(.*?)--all/.exec(run(['whatif', '--help']).out.replace(/\s+/g, ' '))?.[1] ?? '';
    for (const v of VERDICTS.filter((x) => x !== 'unaffected')) assert.match(failOn, new RegExp(`\\b${v}\\b`), v);
  });

  it('answers --help and --version with exit 0', () => {
    assert.equal(run(['--help']).code, 0);
    assert.match(run(['--version']).out, /^\d+\.\d+\.\d+/);
  });
});
