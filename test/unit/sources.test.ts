import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { type CensusOptions, census } from '../../src/census/census.js';
import { CensusError } from '../../src/model/errors.js';
import { LineSplitter, readLines } from '../../src/sources/read-lines.js';
import { expandGlob, orderRotationSet, resolveInputs } from '../../src/sources/resolve-inputs.js';
import { ROOT } from '../helpers/paths.js';

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-test-'));
}

function collect(maxLine = 64 * 1024) {
  const lines: string[] = [];
  let overlong = 0;
  const splitter = new LineSplitter(
    { line: (b, s, e) => lines.push(b.toString('utf8', s, e)), overlong: () => overlong++ },
    maxLine,
  );
  return { lines, splitter, overlong: () => overlong };
}

describe('LineSplitter', () => {
  it('splits across chunk borders, strips CR, keeps a last line without newline', () => {
    const c = collect();
    for (const part of ['a\r\nbb', 'b\ncc', 'c', '\n\nlast']) c.splitter.push(Buffer.from(part));
    c.splitter.end();
    assert.deepEqual(c.lines, ['a', 'bbb', 'ccc', '', 'last']);
  });

  it('counts an over-long line once without buffering it', () => {
    const c = collect(10);
    c.splitter.push(Buffer.from('short\n'));
    c.splitter.push(Buffer.from('x'.repeat(8)));
    c.splitter.push(Buffer.from('y'.repeat(100)));
    c.splitter.push(Buffer.from('z\nnext\n'));
    c.splitter.push(Buffer.from(`${'w'.repeat(50)}\nend`));
    c.splitter.end();
    assert.deepEqual(c.lines, ['short', 'next', 'end']);
    assert.equal(c.overlong(), 2);
  });

  it('keeps invalid UTF-8 as replacement characters', () => {
    const c = collect();
    c.splitter.push(Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]));
    assert.deepEqual(c.lines, ['a\ufffd\ufffdb']);
  });
});

describe('readLines', () => {
  it('streams .gz detected by its magic bytes, whatever the name', async () => {
    const dir = tmpdir();
    const p = path.join(dir, 'maillog.1');
    fs.writeFileSync(p, zlib.gzipSync('one\ntwo\n'));
    const got: string[] = [];
    const r = await readLines(
      { path: p, mtimeMs: 0, sizeBytes: 0 },
      { line: (b, s, e) => got.push(b.toString('utf8', s, e)), overlong: () => {} },
    );
    assert.deepEqual(got, ['one', 'two']);
    assert.equal(r.issue, null);
  });

  it('reports a truncated .gz with its offset and keeps the lines before it', async () => {
    const dir = tmpdir();
    const p = path.join(dir, 'maillog.2.gz');
    const text = Array.from({ length: 20000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n');
    const gz = zlib.gzipSync(text);
    fs.writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
    let n = 0;
    const r = await readLines({ path: p, mtimeMs: 0, sizeBytes: 0 }, { line: () => n++, overlong: () => {} });
    assert.equal(r.issue?.kind, 'truncated-gzip');
    assert.match(r.issue?.message ?? '', /truncated at compressed byte \d+/);
    assert.ok(n > 1000, `lines before the cut are kept (${n})`);
  });

  it('keeps every line a damaged .gz inflates to: data after the last member, a wrong checksum (review)', async () => {
    // zlib drops the output of the whole input chunk it fails in: 1 MiB of compressed text, here all of it.
    const dir = tmpdir();
    const text = `${Array.from({ length: 200_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}`).join('\n')}\n`;
    const gz = zlib.gzipSync(text);
    const trailing = path.join(dir, 'trailing.gz');
    fs.writeFileSync(trailing, Buffer.concat([gz, Buffer.from('garbage')]));
    const checksum = path.join(dir, 'checksum.gz');
    const bad = Buffer.from(gz);
    bad[bad.length - 8]! ^= 0xff; // the CRC-32 in the trailer (RFC 1952)
    fs.writeFileSync(checksum, bad);
    for (const p of [trailing, checksum]) {
      const lines: string[] = [];
      const r = await readLines(
        { path: p, mtimeMs: 0, sizeBytes: fs.statSync(p).size },
        { line: (b, s, e) => lines.push(b.toString('utf8', s, e)), overlong: () => {} },
      );
      assert.equal(r.issue?.kind, 'corrupt-gzip', p);
      assert.equal(lines.length, 200_000, `${p}: every line kept`);
      assert.equal(lines.at(-1), `line 199999 ${'x'.repeat(199_999 % 50)}`);
      assert.equal(r.bytes, text.length);
    }
    // Truncated: zlib fails only at the end, and a reader slower than zlib (the chunk pipeline) had lost what the
    // stream held then (a second review: 62,296 lines on two threads, 99,751 on one).
    const truncated = path.join(dir, 'truncated.gz');
    const sample = fs.readFileSync(path.join(ROOT, 'samples', 'maillog'));
    const mailGz = zlib.gzipSync(Buffer.concat(Array.from({ length: 6 }, () => sample)));
    fs.writeFileSync(truncated, mailGz.subarray(0, Math.floor(mailGz.length / 2)));
    const lines = async (options: CensusOptions) => {
      const r = await census(resolveInputs([truncated]), { timezone: 'UTC', ...options });
      assert.equal(r.diagnostics.issues[0]?.kind, 'truncated-gzip');
      return r.diagnostics.coverage.lines;
    };
    const one = await lines({ threads: 1 });
    assert.ok(one > 25_000, `${one} lines`);
    assert.equal(await lines({ threads: 2, parallel: { chunkBytes: 65_536, startAfterBytes: 0 } }), one);
  });
});

describe('resolveInputs', () => {
  it('orders a rotation set oldest first', () => {
    assert.deepEqual(orderRotationSet(['maillog', 'maillog.1', 'maillog.3.gz', 'maillog.2.gz', 'maillog.10.gz']), [
      'maillog.10.gz',
      'maillog.3.gz',
      'maillog.2.gz',
      'maillog.1',
      'maillog',
    ]);
    // Numbering from 0 (newsyslog, savelog): `maillog.0` is newer than `maillog.1`, older than `maillog`.
    assert.deepEqual(orderRotationSet(['maillog', 'maillog.0', 'maillog.1.gz']), [
      'maillog.1.gz',
      'maillog.0',
      'maillog',
    ]);
    assert.deepEqual(orderRotationSet(['mail.log', 'mail.log-20261120.gz', 'mail.log-20261113']), [
      'mail.log-20261113',
      'mail.log-20261120.gz',
      'mail.log',
    ]);
    // Exchange's files of a day by number, days (and hours) by date, RECV apart from SEND (review: -10 came
    // before -2, and a session across -9 and -10 was split).
    assert.deepEqual(
      orderRotationSet([
        'RECV20240301-1.LOG',
        'RECV20240301-10.LOG',
        'RECV20240301-2.LOG',
        'RECV20240229-3.LOG',
        'SEND20240301-1.LOG',
        'RECV2024030112-1.log',
      ]),
      [
        'RECV20240229-3.LOG',
        'RECV20240301-1.LOG',
        'RECV20240301-2.LOG',
        'RECV20240301-10.LOG',
        'RECV2024030112-1.log',
        'SEND20240301-1.LOG',
      ],
    );
    // A compressed day is of the set too, read before the next day (review: it was read last).
    assert.deepEqual(orderRotationSet(['RECV20261120-1.LOG', 'RECV20261119-2.LOG.gz', 'RECV20261119-1.LOG.gz']), [
      'RECV20261119-1.LOG.gz',
      'RECV20261119-2.LOG.gz',
      'RECV20261120-1.LOG',
    ]);
  });

  it("reads a directory of Exchange protocol logs, and the shell's order of them, by number (review)", () => {
    const dir = tmpdir();
    const names = Array.from({ length: 11 }, (_, i) => `RECV20240301-${i + 1}.LOG`);
    for (const f of names) fs.writeFileSync(path.join(dir, f), '');
    assert.deepEqual(
      resolveInputs([dir]).map((i) => path.basename(i.path)),
      names,
    );
    const shell = [...names].sort().map((f) => path.join(dir, f));
    assert.deepEqual(
      resolveInputs(shell).map((i) => path.basename(i.path)),
      names,
    );
  });

  it('expands globs and directories into rotation order', () => {
    const dir = tmpdir();
    for (const f of ['maillog', 'maillog.1', 'maillog.2.gz', 'other.txt']) fs.writeFileSync(path.join(dir, f), '');
    assert.deepEqual(
      expandGlob(path.join(dir, 'maillog*')).map((p) => path.basename(p)),
      ['maillog', 'maillog.1', 'maillog.2.gz'],
    );
    const fromGlob = resolveInputs([path.join(dir, 'maillog*')]).map((i) => path.basename(i.path));
    assert.deepEqual(fromGlob, ['maillog.2.gz', 'maillog.1', 'maillog']);
    const fromDir = resolveInputs([dir]).map((i) => path.basename(i.path));
    assert.deepEqual(fromDir, ['maillog.2.gz', 'maillog.1', 'maillog', 'other.txt']);
  });

  it('reads a rotation set oldest first when the shell expanded it into arguments, newest first', () => {
    // `tlscensus /var/log/mail.log*` unquoted: the shell passes mail.log mail.log.1 mail.log.10.gz mail.log.2.gz.
    // Read in that order, a session across a rotation was split and a range census never held its seams.
    const dir = tmpdir();
    const names = ['mail.log', 'mail.log.1', 'mail.log.10.gz', 'mail.log.2.gz', 'mail.err', 'mail.err.1'];
    for (const f of names) fs.writeFileSync(path.join(dir, f), '');
    const at = (...fs_: string[]) => fs_.map((f) => path.join(dir, f));
    const read = (args: string[]) => resolveInputs(args).map((i) => path.basename(i.path));
    assert.deepEqual(read(at('mail.log', 'mail.log.1', 'mail.log.10.gz', 'mail.log.2.gz')), [
      'mail.log.10.gz',
      'mail.log.2.gz',
      'mail.log.1',
      'mail.log',
    ]);
    // Each set where its first file was named; a file named twice read once; `-` kept in place.
    assert.deepEqual(read([...at('mail.log', 'mail.err'), '-', ...at('mail.err.1', 'mail.log.1', 'mail.log')]), [
      'mail.log.1',
      'mail.log',
      'mail.err.1',
      'mail.err',
      '-',
    ]);
    // A second name of the same file (a symbolic link) is the same input.
    fs.symlinkSync(path.join(dir, 'mail.log'), path.join(dir, 'current'));
    assert.deepEqual(read(at('mail.log', 'current')), ['mail.log']);
    // Given relative and absolute, a set is still one set, shown by the names it was given.
    const rel = path.relative(process.cwd(), path.join(dir, 'mail.log.1'));
    assert.deepEqual(
      resolveInputs([path.join(dir, 'mail.log'), rel]).map((i) => i.path),
      [rel, path.join(dir, 'mail.log')],
    );
  });

  it('without arguments tries the usual places and names them when none is there', () => {
    const dir = tmpdir();
    const there = path.join(dir, 'maillog');
    fs.writeFileSync(there, 'x\n');
    assert.equal(resolveInputs([], [path.join(dir, 'mail.log'), there])[0]?.path, there);
    assert.throws(
      () => resolveInputs([], ['/nonexistent/mail.log', '/nonexistent/maillog']),
      (e: unknown) =>
        e instanceof CensusError &&
        /\/nonexistent\/mail\.log, \/nonexistent\/maillog/.test(e.message) &&
        e.hint !== null,
    );
  });

  it('refuses a directory without files', () => {
    assert.throws(() => resolveInputs([tmpdir()]), /holds no files/);
  });

  it('says which argument matched nothing', () => {
    assert.throws(() => resolveInputs(['/nonexistent/x*']), /no file matches/);
    assert.throws(() => resolveInputs(['/nonexistent/file']), /no such file/);
  });
});
