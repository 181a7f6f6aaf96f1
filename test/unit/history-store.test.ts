// The history store: what a recording writes, that recording the same log twice (or overlapping spans of it)
// never counts a session twice, retention, the peer sketches, and the one-line errors for files it cannot use.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { census } from '../../src/census/census.js';
import { HistoryRecorder, retentionCutoff } from '../../src/history/history-recorder.js';
import { HISTORY_SCHEMA_VERSION, HistoryStore, spansOverlap } from '../../src/history/history-store.js';
import { HOUR_MS, HourBuckets } from '../../src/history/hour-buckets.js';
import { EXACT_MAX, hashPeer, PeerSketch } from '../../src/history/peer-sketch.js';
import { CensusError } from '../../src/model/errors.js';
import type { Session } from '../../src/model/types.js';
import { resolveInputs } from '../../src/sources/resolve-inputs.js';
import { canonicalBatch } from '../helpers/history-batch.js';
import { fixturePath } from '../helpers/paths.js';

const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);
const MIN = 60_000;
const DAY = 86_400_000;

const dirs: string[] = [];
function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlscensus-history-'));
  dirs.push(dir);
  return path.join(dir, 'history.db');
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

type Kind = 'tls13' | 'tls1' | 'failed' | 'plaintext' | 'no-command';

/** A session of the given kind from peer n, starting at `ms`. */
function session(kind: Kind, ms: number, n = 1, overrides: Partial<Session> = {}): Session {
  const base: Session = {
    mta: 'postfix',
    service: 'smtpd',
    direction: 'inbound',
    peer: { host: `mx${n}.example.org`, ip: `192.0.2.${n}` },
    startMs: ms,
    endMs: ms + 1000,
    outcome: 'tls',
    handshake: null,
    failure: null,
    messages: 1,
  };
  if (kind === 'tls13')
    base.handshake = { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: null, trust: null };
  if (kind === 'tls1') base.handshake = { protocol: 'TLSv1', cipher: 'ECDHE-RSA-AES256-SHA', bits: null, trust: null };
  if (kind === 'failed') {
    base.outcome = 'failed';
    base.failure = { reason: 'unsupported-protocol', detail: 'x' };
    base.messages = 0;
  }
  if (kind === 'plaintext') base.outcome = 'plaintext';
  if (kind === 'no-command') {
    base.outcome = 'no-command';
    base.messages = 0;
  }
  return { ...base, ...overrides };
}

/** A day of traffic: from `fromMs` to `toMs`, one session every `stepMs`, cycling through the kinds. */
function traffic(fromMs: number, toMs: number, stepMs = 10 * MIN): Session[] {
  const kinds: Kind[] = ['tls13', 'tls13', 'tls1', 'failed', 'plaintext', 'no-command'];
  const out: Session[] = [];
  let i = 0;
  for (let t = fromMs; t <= toMs; t += stepMs, i++) out.push(session(kinds[i % kinds.length]!, t, (i % 7) + 1));
  return out;
}

/** A watch's recorder of /var/log/mail.log into `file`, by the clock `now` (the real one when not given). */
function watchRecorder(file: string, now?: () => number) {
  return HistoryRecorder.open(file, {
    source: 'default',
    kind: 'watch',
    inputs: ['/var/log/mail.log'],
    keepDays: null,
    toolVersion: 'test',
    ...(now ? { now } : {}),
  });
}

function record(file: string, sessions: Session[], options: { source?: string; nowMs?: number } = {}) {
  const r = HistoryRecorder.open(file, {
    source: options.source ?? 'default',
    kind: 'report',
    inputs: ['test'],
    keepDays: null,
    toolVersion: 'test',
    now: () => options.nowMs ?? T0 + 30 * DAY,
  });
  for (const s of sessions) r.add(s);
  return r.finish();
}

/** Totals per section over everything recorded. */
function totals(file: string, source: string | null = null) {
  const store = HistoryStore.open(file, { readonly: true });
  try {
    const days = store.loadDays({
      sinceMs: 0,
      untilMs: T0 + 365 * DAY,
      sections: ['inbound', 'outbound', 'mailbox'],
      services: null,
      source,
    });
    const sum = { sessions: 0, tls: 0, failed: 0, plaintext: 0, noCommand: 0, messages: 0, handshakes: 0 };
    for (const d of days) {
      for (const s of d.sections.values()) {
        sum.sessions += s.totals.sessions;
        sum.tls += s.totals.tls;
        sum.failed += s.totals.failed;
        sum.plaintext += s.totals.plaintext;
        sum.noCommand += s.totals.noCommand;
        sum.messages += s.totals.messages;
        for (const h of s.handshakes.values()) sum.handshakes += h.count;
      }
    }
    return sum;
  } finally {
    store.close();
  }
}

function expected(sessions: Session[]) {
  return {
    sessions: sessions.length,
    tls: sessions.filter((s) => s.outcome === 'tls').length,
    failed: sessions.filter((s) => s.outcome === 'failed').length,
    plaintext: sessions.filter((s) => s.outcome === 'plaintext').length,
    noCommand: sessions.filter((s) => s.outcome === 'no-command').length,
    messages: sessions.reduce((n, s) => n + s.messages, 0),
    handshakes: sessions.filter((s) => s.handshake).length,
  };
}

function count(file: string, sql: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('history: peer sketch', () => {
  it('estimates distinct peers closely, exactly when few', () => {
    for (const n of [0, 1, 7, 40, 200, 201, 300, 1000, 30_000]) {
      const s = new PeerSketch();
      for (let i = 0; i < n; i++) {
        s.add(hashPeer(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`));
        s.add(hashPeer(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)); // twice: counted once
      }
      const e = s.estimate();
      if (n <= EXACT_MAX) assert.equal(e, n, `n=${n}`);
      else assert.ok(Math.abs(e - n) / n < 0.08, `n=${n} estimated ${e}`);
    }
  });

  it('merges as the union and survives encoding (sparse and dense)', () => {
    const a = new PeerSketch();
    const b = new PeerSketch();
    for (let i = 0; i < 3000; i++) a.add(hashPeer(`a${i}`));
    for (let i = 0; i < 5; i++) b.add(hashPeer(`b${i}`));
    assert.equal(b.encode().length, 1 + 5 * 3, 'the hashes while few');
    assert.equal(a.encode().length, 1025, 'dense when full');
    const c = new PeerSketch();
    for (let i = 0; i < 300; i++) c.add(hashPeer(`c${i}`));
    assert.ok(c.encode().length < 1 + 300 * 3, 'sparse in between');
    assert.equal(PeerSketch.decode(c.encode())!.estimate(), c.estimate());
    const union = new PeerSketch();
    for (let i = 0; i < 3000; i++) union.add(hashPeer(`a${i}`));
    for (let i = 0; i < 5; i++) union.add(hashPeer(`b${i}`));
    const merged = PeerSketch.decode(a.encode())!.merge(PeerSketch.decode(b.encode())!);
    assert.deepEqual(merged.registers, union.registers);
    assert.equal(PeerSketch.decode(Buffer.from([9, 1, 2])), null);
  });
});

describe('history: ingestion', () => {
  it('records totals, handshakes by IANA name, failures and peers per UTC hour', () => {
    const file = tempDb();
    const sessions = traffic(T0, T0 + 6 * HOUR_MS - 1);
    const summary = record(file, sessions);
    assert.equal(summary.sessions, sessions.length);
    assert.equal(summary.hours, 6);
    assert.deepEqual(totals(file), expected(sessions));
    const store = HistoryStore.open(file, { readonly: true });
    const [day] = store.loadDays({
      sinceMs: T0,
      untilMs: T0 + DAY,
      sections: ['inbound'],
      services: null,
      source: null,
    });
    store.close();
    assert.equal(day?.observedHours, 6);
    const inbound = day!.sections.get('inbound')!;
    const ciphers = [...inbound.handshakes.values()].map((h) => `${h.protocol} ${h.cipher} ${h.rating}`).sort();
    assert.deepEqual(ciphers, [
      'TLSv1 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA weak',
      'TLSv1.3 TLS_AES_256_GCM_SHA384 recommended',
    ]);
    assert.deepEqual([...inbound.failures], [['unsupported-protocol', 6]]);
    assert.equal(inbound.peers.get('legacy')?.estimate(), 6);
    assert.equal(inbound.peers.get('plaintext')?.estimate(), 6);
    assert.equal(inbound.peers.has('failed'), true);
  });

  it('stores no peer name or address', () => {
    const file = tempDb();
    record(file, traffic(T0, T0 + 2 * HOUR_MS));
    const db = new Database(file, { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (t) => t.name,
    );
    const text = tables
      .flatMap((t) => db.prepare(`SELECT * FROM ${t}`).all())
      .map((row) => JSON.stringify(row))
      .join('\n');
    db.close();
    assert.ok(!/example\.org|192\.0\.2\./.test(text), 'no host or address in any table');
  });

  it('records the sessions census() hands over, also with worker threads', async () => {
    const inputs = resolveInputs([fixturePath('corpus/postfix/maillog')]);
    const seen = (threads: number) => {
      const sessions: Session[] = [];
      return census(inputs, {
        threads,
        parallel: { chunkBytes: 4096, startAfterBytes: 0 },
        filter: { direction: 'inbound', onSession: (s) => sessions.push(s) },
      }).then((r) => ({ sessions, view: r.view }));
    };
    const one = await seen(1);
    const two = await seen(2);
    assert.equal(one.sessions.length, two.sessions.length);
    assert.ok(
      one.sessions.length > one.view.inbound.totals.sessions,
      'the tap sees the outbound sessions the filter drops',
    );
    const file = tempDb();
    const r = HistoryRecorder.open(file, {
      source: 'default',
      kind: 'report',
      inputs: [],
      keepDays: null,
      toolVersion: 'test',
    });
    for (const s of two.sessions) r.add(s);
    r.finish();
    assert.equal(totals(file).sessions, two.sessions.length);
  });
});

describe('history: idempotence', () => {
  it('counts the same log recorded twice once', () => {
    const file = tempDb();
    const sessions = traffic(T0, T0 + DAY - 1);
    record(file, sessions);
    record(file, sessions);
    assert.deepEqual(totals(file), expected(sessions));
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM contributions'), 24, 'the older copy is deleted');
  });

  it('a longer recording replaces the shorter one it contains (a growing mail.log)', () => {
    const file = tempDb();
    const day = traffic(T0, T0 + DAY - 1);
    record(
      file,
      day.filter((s) => s.startMs! < T0 + 12.5 * HOUR_MS),
    );
    record(file, day);
    assert.deepEqual(totals(file), expected(day));
    // And the other way round: the shorter one recorded later changes nothing.
    const file2 = tempDb();
    record(file2, day);
    record(
      file2,
      day.filter((s) => s.startMs! < T0 + 12.5 * HOUR_MS),
    );
    assert.deepEqual(totals(file2), expected(day));
  });

  it('adds the two sides of a rotation in mid-hour, then lets a recording of both replace them', () => {
    const file = tempDb();
    const day = traffic(T0, T0 + DAY - 1, 5 * MIN);
    const cut = T0 + 6 * HOUR_MS + 25 * MIN; // logrotate at 06:25
    const before = day.filter((s) => s.startMs! < cut);
    const afterCut = day.filter((s) => s.startMs! >= cut);
    record(file, before);
    record(file, afterCut);
    assert.deepEqual(totals(file), expected(day));
    record(file, day);
    assert.deepEqual(totals(file), expected(day));
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM contributions'), 24);
  });

  it('sessions in the same second on both sides of a rotation are both counted', () => {
    const file = tempDb();
    const t = T0 + 6 * HOUR_MS + 25 * MIN;
    const a = [session('tls13', T0 + 6 * HOUR_MS, 1), session('tls13', t, 2)];
    const b = [session('tls13', t, 3), session('tls13', T0 + 7 * HOUR_MS - 1000, 4)];
    record(file, a);
    record(file, b);
    assert.equal(totals(file).sessions, 4);
  });

  it('merges overlapping windows: each stretch of log counted once', () => {
    const file = tempDb();
    const week = traffic(T0, T0 + 7 * DAY - 1, 20 * MIN);
    const span = (from: number, to: number) => week.filter((s) => s.startMs! >= T0 + from && s.startMs! < T0 + to);
    // Rotated daily files, then a `mail.log*` run over days 3–5, then day 6 twice, then days 0–1 again.
    for (let d = 0; d < 7; d++) record(file, span(d * DAY, (d + 1) * DAY));
    record(file, span(3 * DAY, 6 * DAY));
    record(file, span(6 * DAY, 7 * DAY));
    record(file, span(0, 2 * DAY));
    assert.deepEqual(totals(file), expected(week));
  });

  it('reads by service as the report filters: as logged, or by master.cf name (review)', () => {
    const file = tempDb();
    const at = (service: string, n: number) => session('tls13', T0 + n * MIN, n, { service });
    record(file, [at('smtpd', 1), at('submission/smtpd', 2), at('submission/smtpd', 3), at('smtps/smtpd', 4)]);
    const store = HistoryStore.open(file, { readonly: true });
    try {
      const sessions = (services: string[]) =>
        store
          .loadDays({ sinceMs: 0, untilMs: T0 + DAY, sections: ['inbound'], services, source: null })
          .reduce((n, d) => n + (d.sections.get('inbound')?.totals.sessions ?? 0), 0);
      assert.equal(sessions(['submission/smtpd']), 2);
      assert.equal(sessions(['submission']), 2);
      assert.equal(sessions(['smtpd']), 1);
      assert.equal(sessions(['submission', 'smtps']), 3);
      assert.equal(sessions(['smtpd/submission']), 0);
    } finally {
      store.close();
    }
  });

  it('keeps sources apart: two servers over the same hours add up', () => {
    const file = tempDb();
    const day = traffic(T0, T0 + DAY - 1);
    record(file, day, { source: 'mx1' });
    record(file, day, { source: 'mx2' });
    assert.equal(totals(file).sessions, 2 * day.length);
    assert.equal(totals(file, 'mx1').sessions, day.length);
  });

  it('keeps MTAs apart: a recording with Postfix only does not replace Dovecot hours', () => {
    const file = tempDb();
    const postfix = traffic(T0, T0 + 3 * HOUR_MS);
    const dovecot = traffic(T0, T0 + 3 * HOUR_MS).map((s) => ({ ...s, mta: 'dovecot', service: 'imap' }));
    record(file, [...postfix, ...dovecot]);
    record(file, postfix);
    assert.equal(totals(file).sessions, postfix.length + dovecot.length);
  });

  it('a watch flushed many times equals one report, and a report after it does not double-count', () => {
    const file = tempDb();
    const day = traffic(T0, T0 + DAY - 1, 7 * MIN);
    const watch = watchRecorder(file);
    watch.start();
    day.forEach((s, i) => {
      watch.add(s);
      if (i % 13 === 0) watch.flush();
    });
    watch.flush();
    // While it runs, a report of the first half of the day comes in: contained, set aside, not counted.
    record(
      file,
      day.filter((s) => s.startMs! < T0 + 12 * HOUR_MS + 30 * MIN),
    );
    assert.deepEqual(totals(file), expected(day));
    watch.finish();
    assert.deepEqual(totals(file), expected(day));
    // After rotation, the report of the whole file.
    record(file, day);
    assert.deepEqual(totals(file), expected(day));
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM contributions'), 24);
  });

  it('a watch records no session dated beyond a day ahead of its clock, as its clock moves on (review)', () => {
    const file = tempDb();
    let now = T0;
    const watch = watchRecorder(file, () => now);
    watch.start();
    watch.add(session('tls13', T0));
    // A line dated a century ahead (a forged log): undated, not a row for every hour until then.
    watch.add(session('tls13', T0 + 100 * 365 * DAY));
    const first = watch.flush();
    assert.equal(first.sessions, 1);
    assert.equal(first.undated, 1);
    // Three days on, that day's sessions are recorded.
    now = T0 + 3 * DAY;
    watch.add(session('tls13', T0 + 3 * DAY - HOUR_MS));
    assert.equal(watch.flush().sessions, 1);
    watch.finish();
    assert.ok(count(file, 'SELECT COUNT(*) AS n FROM contributions') < 100);
  });

  it('a failed write keeps the sessions for the next flush', () => {
    const file = tempDb();
    const r = HistoryRecorder.open(file, {
      source: 'default',
      kind: 'watch',
      inputs: [],
      keepDays: null,
      toolVersion: 'test',
    });
    r.start();
    const sessions = traffic(T0, T0 + 2 * HOUR_MS);
    for (const s of sessions) r.add(s);
    const blocker = new Database(file);
    blocker.pragma('busy_timeout = 0');
    blocker.exec('BEGIN IMMEDIATE');
    const db = (r.store as unknown as { db: Database.Database }).db;
    db.pragma('busy_timeout = 0');
    assert.throws(
      () => r.flush(),
      (e: unknown) => e instanceof CensusError && e.code === 'history-busy',
    );
    blocker.exec('ROLLBACK');
    blocker.close();
    r.finish();
    assert.deepEqual(totals(file), expected(sessions));
  });

  it('resolves spans: overlap, containment, touching ends', () => {
    const s = (fromMs: number, toMs: number) => ({ fromMs, toMs });
    assert.equal(spansOverlap(s(0, 10), s(5, 20)), true);
    assert.equal(spansOverlap(s(0, 10), s(10, 20)), false, 'touching: the two sides of a rotation');
    assert.equal(spansOverlap(s(5, 5), s(5, 5)), true, 'the same instant twice');
    assert.equal(spansOverlap(s(5, 5), s(5, 20)), true, 'contained');
    assert.equal(spansOverlap(s(0, 4), s(5, 20)), false);
  });
});

describe('history: retention', () => {
  it('--keep-days deletes hours before the UTC day N days ago, and recordings left empty', () => {
    const file = tempDb();
    const tenDays = traffic(T0, T0 + 10 * DAY - 1, HOUR_MS);
    record(file, tenDays.slice(0, 5 * 24));
    record(file, tenDays.slice(5 * 24));
    const nowMs = T0 + 10 * DAY + 15 * HOUR_MS; // day 10, 15:00
    assert.equal(retentionCutoff(nowMs, 3), T0 + 7 * DAY);
    const r = HistoryRecorder.open(file, {
      source: 'default',
      kind: 'report',
      inputs: [],
      keepDays: 3,
      toolVersion: 'test',
      now: () => nowMs,
    });
    r.add(session('tls13', T0 + 10 * DAY + 14 * HOUR_MS, 1));
    const summary = r.finish();
    assert.equal(summary.pruned, 7 * 24);
    assert.equal(count(file, 'SELECT MIN(hour_ms) AS n FROM contributions'), T0 + 7 * DAY);
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM recordings'), 2, 'the first recording is gone');
    assert.equal(totals(file).sessions, 3 * 24 + 1);
    assert.equal(
      count(
        file,
        'SELECT COUNT(*) AS n FROM hour_totals t LEFT JOIN contributions c ON c.id = t.contribution_id WHERE c.id IS NULL',
      ),
      0,
    );
  });
});

describe('history: retention of a quiet watch', () => {
  it('prunes once an hour even when no session arrives', () => {
    const file = tempDb();
    record(file, traffic(T0, T0 + 2 * DAY - 1, HOUR_MS));
    let nowMs = T0 + 2 * DAY - HOUR_MS; // day 1, 23:00: day 0 is within --keep-days 1
    const w = HistoryRecorder.open(file, {
      source: 'default',
      kind: 'watch',
      inputs: [],
      keepDays: 1,
      toolVersion: 'test',
      now: () => nowMs,
    });
    w.start();
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM contributions'), 48);
    nowMs = T0 + 2 * DAY + 2 * HOUR_MS; // day 2: day 0 is past
    assert.equal(w.flush().pruned, 24);
    w.finish();
    assert.equal(count(file, 'SELECT MIN(hour_ms) AS n FROM contributions'), T0 + DAY);
  });
});

describe('history: files it cannot use', () => {
  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CensusError, String(e));
      assert.ok(e.hint, 'with a hint');
      return e.code;
    }
    return 'no error';
  };

  it('refuses a file that is not SQLite, another program’s database, a newer schema', () => {
    const text = tempDb();
    fs.writeFileSync(text, 'this is a mail log, not a database\n'.repeat(200));
    assert.equal(
      code(() => HistoryStore.open(text)),
      'history-corrupt',
    );
    assert.equal(
      code(() => HistoryStore.open(text, { readonly: true })),
      'history-corrupt',
    );

    const foreign = tempDb();
    const f = new Database(foreign);
    f.exec('CREATE TABLE t (x)');
    f.close();
    assert.equal(
      code(() => HistoryStore.open(foreign)),
      'history-foreign',
    );

    const newer = tempDb();
    HistoryStore.open(newer).close();
    const n = new Database(newer);
    n.prepare('INSERT INTO schema_migrations VALUES (?, 0, ?)').run(HISTORY_SCHEMA_VERSION + 1, '9.9.9');
    n.close();
    assert.equal(
      code(() => HistoryStore.open(newer)),
      'history-newer',
    );
    assert.equal(
      code(() => HistoryStore.open(newer, { readonly: true })),
      'history-newer',
    );
  });

  it('says when the file or its directory is missing', () => {
    const missing = path.join(path.dirname(tempDb()), 'nope', 'history.db');
    assert.equal(
      code(() => HistoryStore.open(missing)),
      'history-unwritable',
    );
    assert.equal(
      code(() => HistoryStore.open(missing, { readonly: true })),
      'history-missing',
    );
    const dir = path.dirname(tempDb());
    fs.mkdirSync(dir, { recursive: true });
    assert.equal(
      code(() => HistoryStore.open(dir)),
      'history-directory',
    );
  });

  it('creates a new file with the current schema and its version table', () => {
    const file = tempDb();
    const store = HistoryStore.open(file);
    assert.equal(store.schemaVersion(), HISTORY_SCHEMA_VERSION);
    store.close();
    assert.equal(count(file, 'SELECT MAX(version) AS n FROM schema_migrations'), HISTORY_SCHEMA_VERSION);
    // Opening again migrates nothing.
    HistoryStore.open(file).close();
    assert.equal(count(file, 'SELECT COUNT(*) AS n FROM schema_migrations'), HISTORY_SCHEMA_VERSION);
  });
});

describe('history: hour buckets', () => {
  it('joins the spans of consecutive batches and keeps undated sessions out', () => {
    const b = new HourBuckets();
    b.add(session('tls13', T0 + 10 * MIN));
    b.add(session('tls13', T0 + 50 * MIN));
    b.add(session('tls13', 0, 1, { startMs: null }));
    const first = b.take();
    assert.equal(first.undated, 1);
    assert.equal(first.sessions, 2);
    b.add(session('tls13', T0 + 3 * HOUR_MS));
    const second = b.take();
    const s = second.streams.get('postfix')!;
    assert.equal(s.fromMs, T0 + 50 * MIN, 'starts where the previous batch ended');
    assert.equal(s.toMs, T0 + 3 * HOUR_MS);
  });

  it('absorbs a part collected elsewhere as if its sessions had been added here (caps, spans, sketches)', () => {
    // Sessions of many services and ciphers, with caps small enough that the order names first come in decides
    // which become `other`; the part is collected uncapped (a range's thread) and crosses a structured clone.
    const ciphers = ['TLS_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-SHA', 'AES128-SHA', 'DHE-RSA-AES256-SHA', 'RC4-SHA'];
    const services = ['smtpd', 'submission/smtpd', 'imap', 'smtp', 'pop3'];
    const kinds: Kind[] = ['tls13', 'tls1', 'failed', 'plaintext', 'no-command'];
    const all: Session[] = [];
    for (let i = 0; i < 300; i++) {
      const s = session(kinds[(i * 7) % kinds.length]!, T0 + i * 3 * MIN, (i % 250) + 1, {
        service: services[(i * i + 3 * i) % services.length]!,
        mta: i % 11 === 0 ? 'dovecot' : 'postfix',
      });
      if (s.handshake) s.handshake = { ...s.handshake, cipher: ciphers[(i * 3 + (i >> 4)) % ciphers.length]! };
      if (i % 37 === 0) s.startMs = null;
      all.push(s);
    }
    const caps = { maxCipherNames: 3, maxServiceNames: 2 };
    const onePass = new HourBuckets(caps);
    onePass.add(session('tls13', T0 - HOUR_MS)); // an earlier batch: the spans join up with it
    onePass.take();
    for (const s of all) onePass.add(s);
    const expected = canonicalBatch(onePass.take());
    for (const cut of [0, 1, 40, 150, 299, 300]) {
      const here = new HourBuckets(caps);
      here.add(session('tls13', T0 - HOUR_MS));
      here.take();
      for (const s of all.slice(0, cut)) here.add(s);
      const there = new HourBuckets({ maxCipherNames: Infinity, maxServiceNames: Infinity });
      for (const s of all.slice(cut)) there.add(s);
      here.absorb(structuredClone(there.part()));
      assert.equal(canonicalBatch(here.take()), expected, `cut at ${cut}`);
    }
    assert.ok(expected.includes('\\u0000other'), 'the caps were reached');
  });

  it('counts sessions outside its window as undated (a clock reset to 1970, forged dates)', () => {
    const b = new HourBuckets({ window: { fromMs: T0, toMs: T0 + DAY } });
    b.add(session('tls13', T0 + 10 * MIN));
    b.add(session('tls13', T0 - 1));
    b.add(session('tls13', T0 + DAY + 1));
    b.add(session('tls13', Date.UTC(1970, 0, 1)));
    const batch = b.take();
    assert.equal(batch.sessions, 1);
    assert.equal(batch.undated, 3);
    assert.deepEqual([...batch.streams.get('postfix')!.hours.keys()], [T0]);
  });

  it('records sessions of the last ten years and up to a day ahead of the clock', () => {
    const file = tempDb();
    const now = T0 + 3 * DAY;
    const r = HistoryRecorder.open(file, {
      source: 'default',
      kind: 'report',
      inputs: ['test'],
      keepDays: null,
      toolVersion: 'test',
      now: () => now,
    });
    r.add(session('tls13', T0));
    r.add(session('tls13', now + DAY - 1000));
    r.add(session('tls13', now + 2 * DAY));
    r.add(session('tls13', Date.UTC(1970, 0, 2)));
    r.add(session('tls13', now - 11 * 365 * DAY));
    const summary = r.finish();
    assert.equal(summary.sessions, 2);
    assert.equal(summary.undated, 3);
  });

  it('caps the distinct cipher names a hostile log can create', () => {
    const b = new HourBuckets();
    for (let i = 0; i < 400; i++) {
      b.add(
        session('tls13', T0, 1, {
          handshake: { protocol: 'TLSv1.2', cipher: `BOGUS-${i}\x1b[31m`, bits: null, trust: null },
        }),
      );
    }
    const keys = [...b.take().streams.get('postfix')!.hours.get(T0)!.handshakes.keys()];
    assert.equal(keys.length, 257);
    assert.ok(keys.some((k) => k.includes('\u0000other\u0000')));
    assert.ok(!keys.some((k) => k.includes('\x1b')), 'control characters cleaned');
  });
});
