// The history: one SQLite file (better-sqlite3) of per-hour aggregates that `report --history` and
// `watch --history` record into and `trend` reads. README "History and trends" is the user's side of this file.
//
// What is stored. A *recording* is one run (a report, or a watch from start to exit). It contributes, per MTA
// (a *stream*) and per UTC hour of session starts, one *contribution*: the part of that hour its log covered
// (from the first to the last session start of the stream, clamped to the hour) and the hour's aggregates —
// totals by section and service, handshakes by protocol × cipher × rating, failures by reason, and HyperLogLog
// sketches of distinct peers. No peer name or address is ever stored.
//
// Idempotence. Logs are recorded again and again (a cron job over `mail.log*`, a report after a watch, the same
// file twice), so within one hour of one source and stream the contributions are resolved, not added:
//   - a contribution whose covered span overlaps another's is a second look at the same log lines: of the two,
//     the one covering more of the hour counts (on a tie, the later recording), the other is set aside;
//   - contributions whose spans do not overlap (the two sides of a log rotation in mid-hour) add up.
// Every hour therefore counts each stretch of log once, whatever was recorded twice. Set-aside contributions that
// lie wholly inside a counted one can never count again and are deleted (those of a watch still running are
// kept until it exits: its span only grows). Resolution runs when an hour is written, and the result is the
// `effective` flag, so reading is plain SQL (the `*_hourly` and `*_daily` views sum effective rows).
// Limit: where two recordings overlap only in part within an hour (a watch started in the middle of a span a
// report covered), the smaller one's sessions outside the overlap are not counted for that hour.

import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { lazyModule } from '../lazy-module.js';
import { CensusError } from '../model/errors.js';
import {
  emptyHourTotals,
  type HistoryBatch,
  HOUR_MS,
  type HourBucket,
  type HourTotals,
  type PeerKind,
  type Section,
  splitKey,
  TOTAL_FIELDS,
} from './hour-buckets.js';
import { PeerSketch } from './peer-sketch.js';

const sqlite = lazyModule<typeof Database>('better-sqlite3');

/** The schema this version writes and reads; a file of a higher version is refused. */
export const HISTORY_SCHEMA_VERSION = 1;
/** SQLite's header field for the application that owns the file: `TLSC`. */
export const HISTORY_APPLICATION_ID = 0x544c5343;

const DAY_MS = 86_400_000;

const TOTAL_COLUMNS: Record<keyof HourTotals, string> = {
  sessions: 'sessions',
  tls: 'tls',
  failed: 'failed',
  plaintext: 'plaintext',
  noCommand: 'no_command',
  trusted: 'trusted',
  incomplete: 'incomplete',
  messages: 'messages',
  tlsMessages: 'tls_messages',
  plaintextMessages: 'plaintext_messages',
};
const TOTAL_COLS = TOTAL_FIELDS.map((f) => TOTAL_COLUMNS[f]);

/** `day_ms` of an `hour_ms` (floor, also before 1970). */
const DAY_OF = (col: string) => `(${col} - ((${col} % ${DAY_MS}) + ${DAY_MS}) % ${DAY_MS})`;

function views(): string {
  const totalsSum = TOTAL_COLS.map((c) => `SUM(t.${c}) AS ${c}`).join(', ');
  const view = (name: string, table: string, alias: string, keys: string[], sums: string, daily: boolean) => {
    const time = daily
      ? `${DAY_OF('c.hour_ms')} AS day_ms, date(${DAY_OF('c.hour_ms')} / 1000, 'unixepoch') AS day`
      : `c.hour_ms, datetime(c.hour_ms / 1000, 'unixepoch') AS hour`;
    const group = daily ? 'day_ms' : 'c.hour_ms';
    // Handshake rows name their key by id (handshake_keys): the names are joined in.
    const keyed = table === 'hour_handshakes';
    const cols = keys.map((k) => `${keyed ? 'k' : alias}.${k}`).join(', ');
    const join = keyed ? ` JOIN handshake_keys k ON k.id = ${alias}.key_id` : '';
    return `CREATE VIEW ${name} AS SELECT ${time}, c.source, c.mta, ${cols}, ${sums}
      FROM ${table} ${alias} JOIN contributions c ON c.id = ${alias}.contribution_id${join} WHERE c.effective = 1
      GROUP BY ${group}, c.source, c.mta, ${cols};`;
  };
  return [true, false]
    .flatMap((daily) => {
      const suffix = daily ? 'daily' : 'hourly';
      return [
        view(`totals_${suffix}`, 'hour_totals', 't', ['section', 'service'], totalsSum, daily),
        view(
          `handshakes_${suffix}`,
          'hour_handshakes',
          'h',
          ['section', 'service', 'protocol', 'cipher', 'rating'],
          'SUM(h.count) AS count',
          daily,
        ),
        view(
          `failures_${suffix}`,
          'hour_failures',
          'f',
          ['section', 'service', 'reason'],
          'SUM(f.count) AS count',
          daily,
        ),
      ];
    })
    .join('\n');
}

/** Migrations, in order: MIGRATIONS[i] brings the schema from version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE schema_migrations (
    version INTEGER PRIMARY KEY,
    applied_ms INTEGER NOT NULL,
    tool_version TEXT NOT NULL
  );
  CREATE TABLE recordings (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('report', 'watch')),
    inputs TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    finished_ms INTEGER,
    first_ms INTEGER,
    last_ms INTEGER,
    sessions INTEGER NOT NULL DEFAULT 0,
    undated INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE contributions (
    id INTEGER PRIMARY KEY,
    recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    mta TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    from_ms INTEGER NOT NULL,
    to_ms INTEGER NOT NULL,
    effective INTEGER NOT NULL DEFAULT 1,
    UNIQUE (recording_id, mta, hour_ms)
  );
  CREATE INDEX contributions_bucket ON contributions (source, mta, hour_ms);
  CREATE INDEX contributions_effective ON contributions (effective, hour_ms);
  CREATE TABLE hour_totals (
    contribution_id INTEGER NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    service TEXT NOT NULL,
    ${TOTAL_COLS.map((c) => `${c} INTEGER NOT NULL DEFAULT 0`).join(',\n    ')},
    PRIMARY KEY (contribution_id, section, service)
  ) WITHOUT ROWID;
  CREATE TABLE handshake_keys (
    id INTEGER PRIMARY KEY,
    section TEXT NOT NULL,
    service TEXT NOT NULL,
    protocol TEXT NOT NULL,
    cipher TEXT NOT NULL,
    rating TEXT NOT NULL,
    UNIQUE (section, service, protocol, cipher, rating)
  );
  CREATE TABLE hour_handshakes (
    contribution_id INTEGER NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
    key_id INTEGER NOT NULL REFERENCES handshake_keys (id),
    count INTEGER NOT NULL,
    PRIMARY KEY (contribution_id, key_id)
  ) WITHOUT ROWID;
  CREATE INDEX hour_handshakes_key ON hour_handshakes (key_id);
  CREATE TABLE hour_failures (
    contribution_id INTEGER NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    service TEXT NOT NULL,
    reason TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (contribution_id, section, service, reason)
  ) WITHOUT ROWID;
  CREATE TABLE hour_peers (
    contribution_id INTEGER NOT NULL REFERENCES contributions (id) ON DELETE CASCADE,
    section TEXT NOT NULL,
    kind TEXT NOT NULL,
    sketch BLOB NOT NULL,
    PRIMARY KEY (contribution_id, section, kind)
  );
  ${views()}
  `,
];

export interface RecordingInfo {
  source: string;
  kind: 'report' | 'watch';
  inputs: readonly string[];
  nowMs: number;
  /** A report is written in one transaction and is finished from the start; a watch is finished on exit. */
  finished: boolean;
}

export interface HistoryQuery {
  /** Hours starting at or after. */
  sinceMs: number;
  /** Hours starting before. */
  untilMs: number;
  sections: readonly Section[];
  /** Only these services (null: all). Peer sketches are per section only, so they are left out then. */
  services: readonly string[] | null;
  /** Only this source (null: all, summed). */
  source: string | null;
}

export interface DayHandshakes {
  protocol: string;
  cipher: string;
  rating: string;
  count: number;
}

export interface DaySection {
  totals: HourTotals;
  /** `protocol\0cipher\0rating` → row. */
  handshakes: Map<string, DayHandshakes>;
  failures: Map<string, number>;
  /** Absent with a service filter. */
  peers: Map<PeerKind, PeerSketch>;
}

export interface HistoryDay {
  dayMs: number;
  /** Hours of this day with counted data of any stream (of the selected source). */
  observedHours: number;
  sections: Map<Section, DaySection>;
}

export interface HistoryOverview {
  sources: string[];
  /** First and last hour with counted data. */
  firstHourMs: number | null;
  lastHourMs: number | null;
  recordings: number;
}

interface ContributionRow {
  id: number;
  fromMs: number;
  toMs: number;
  recordingId: number;
  effective: number;
  finished: number;
}

/** Spans (session starts, ms, both ends included) that are two looks at the same log lines. */
export function spansOverlap(a: { fromMs: number; toMs: number }, b: { fromMs: number; toMs: number }): boolean {
  const contains = (x: typeof a, y: typeof a) => x.fromMs <= y.fromMs && y.toMs <= x.toMs;
  return (a.fromMs < b.toMs && b.fromMs < a.toMs) || contains(a, b) || contains(b, a);
}

export function historyError(file: string, e: unknown): unknown {
  if (e instanceof CensusError) return e;
  const code = typeof (e as { code?: unknown })?.code === 'string' ? (e as { code: string }).code : '';
  const detail = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB') {
    return new CensusError('history-corrupt', `${file} is not a tlscensus history (not an SQLite database)`, {
      hint: 'give another --history file (tlscensus creates it), or move this one away',
    });
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return new CensusError('history-corrupt', `the history ${file} is damaged: ${detail}`, {
      hint: `restore it from a backup, or move it away and start a new one (sqlite3 ${file} .recover may save its data)`,
    });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new CensusError('history-unwritable', `cannot open the history ${file}: ${detail}`, {
      hint: 'check that its directory exists and that this user may write there',
    });
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new CensusError('history-unwritable', `cannot write the history ${file}: ${detail}`, {
      hint: 'give this user write access to the file and its directory (SQLite keeps -wal and -shm files beside it)',
    });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new CensusError('history-busy', `the history ${file} stayed locked: ${detail}`, {
      hint: 'another process is writing it; try again in a moment',
    });
  }
  if (code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR')) {
    return new CensusError('history-io', `cannot write the history ${file}: ${detail}`, {
      hint: 'check free space and the file system',
    });
  }
  return e;
}

export interface OpenOptions {
  /** For reading (trend): the file must exist and is never created, migrated or written. */
  readonly?: boolean;
  nowMs?: number;
  /** Written beside each recording and migration (the CLI's version). */
  toolVersion?: string;
}

export class HistoryStore {
  private readonly stmts: ReturnType<typeof prepare>;
  /** Handshake key ids known to be in the file (keys are only deleted by prune, which clears this). */
  private readonly keyIds = new Map<string, number>();

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    readonly readonly: boolean,
    private readonly toolVersion: string,
  ) {
    this.stmts = prepare(db);
  }

  static open(file: string, options: OpenOptions = {}): HistoryStore {
    const readonly = options.readonly ?? false;
    let isDirectory = false;
    try {
      isDirectory = fs.statSync(file).isDirectory();
    } catch {
      // not there: created, or reported missing below
    }
    if (isDirectory) {
      throw new CensusError('history-directory', `the history ${file} is a directory`, {
        hint: `name a file in it, e.g. --history ${path.join(file, 'tlscensus-history.db')}`,
      });
    }
    if (readonly && !fs.existsSync(file)) {
      throw new CensusError('history-missing', `no history at ${file}`, {
        hint: `record one first: tlscensus report LOG --history ${file} (or watch … --history ${file})`,
      });
    }
    if (!readonly && !fs.existsSync(path.dirname(path.resolve(file)))) {
      throw new CensusError('history-unwritable', `cannot create the history ${file}: its directory does not exist`, {
        hint: `create it first (mkdir -p ${path.dirname(file)})`,
      });
    }
    let db: Database.Database | null = null;
    try {
      db = new (sqlite())(file, { readonly, fileMustExist: readonly });
      const toolVersion = options.toolVersion ?? 'unknown';
      return new HistoryStore(
        setUp(db, file, readonly, options.nowMs ?? Date.now(), toolVersion),
        file,
        readonly,
        toolVersion,
      );
    } catch (e) {
      db?.close();
      throw historyError(file, e);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs `fn` in one write transaction (all or nothing). */
  transaction<T>(fn: () => T): T {
    return this.guard(() => this.db.transaction(fn).immediate());
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw historyError(this.file, e);
    }
  }

  schemaVersion(): number {
    return this.guard(() => currentVersion(this.db));
  }

  beginRecording(r: RecordingInfo): number {
    return this.guard(() => {
      const info = this.stmts.insertRecording.run(
        r.source,
        r.kind,
        JSON.stringify(r.inputs),
        this.toolVersion,
        r.nowMs,
        r.finished ? r.nowMs : null,
      );
      return Number(info.lastInsertRowid);
    });
  }

  /** Marks a watch finished and settles the hours it had set aside while running. */
  finishRecording(recordingId: number, nowMs: number): void {
    this.guard(() => {
      this.stmts.finishRecording.run(nowMs, recordingId);
      const hours = this.stmts.setAsideHours.all(recordingId) as { source: string; mta: string; hourMs: number }[];
      for (const h of hours) this.resolveHour(h.source, h.mta, h.hourMs);
    });
  }

  /**
   * Adds a batch to a recording: per stream, every hour of its span gets the recording's contribution (with what
   * the batch holds for it, or empty: a covered hour without sessions is a quiet hour, not a gap), and the hour is
   * resolved. Call inside transaction().
   */
  record(recordingId: number, source: string, batch: HistoryBatch): { hours: number } {
    return this.guard(() => {
      const hours = new Set<number>();
      let firstMs: number | null = null;
      let lastMs: number | null = null;
      for (const stream of batch.streams.values()) {
        firstMs = firstMs === null ? stream.fromMs : Math.min(firstMs, stream.fromMs);
        lastMs = lastMs === null ? stream.toMs : Math.max(lastMs, stream.toMs);
        const firstHour = Math.floor(stream.fromMs / HOUR_MS) * HOUR_MS;
        for (let hour = firstHour; hour <= stream.toMs; hour += HOUR_MS) {
          const from = Math.max(stream.fromMs, hour);
          const to = Math.min(stream.toMs, hour + HOUR_MS - 1);
          const row = this.stmts.upsertContribution.get(recordingId, source, stream.mta, hour, from, to) as {
            id: number;
          };
          const bucket = stream.hours.get(hour);
          if (bucket) this.addBucket(row.id, bucket);
          this.resolveHour(source, stream.mta, hour);
          hours.add(hour);
        }
      }
      this.stmts.updateRecording.run({
        first: firstMs,
        last: lastMs,
        sessions: batch.sessions,
        undated: batch.undated,
        id: recordingId,
      });
      return { hours: hours.size };
    });
  }

  private addBucket(contributionId: number, b: HourBucket): void {
    const s = this.stmts;
    for (const [key, t] of b.totals) {
      const [section, service] = splitKey(key);
      s.upsertTotals.run(contributionId, section, service, ...TOTAL_FIELDS.map((f) => t[f]));
    }
    for (const [key, n] of b.handshakes) s.upsertHandshakes.run(contributionId, this.handshakeKey(key), n);
    for (const [key, n] of b.failures) {
      const [section, service, reason] = splitKey(key);
      s.upsertFailures.run(contributionId, section, service, reason, n);
    }
    for (const [key, sketch] of b.peers) {
      const [section, kind] = splitKey(key);
      const old = s.selectSketch.get(contributionId, section, kind) as { sketch: Buffer } | undefined;
      const merged = old ? (PeerSketch.decode(old.sketch) ?? new PeerSketch()).merge(sketch) : sketch;
      s.upsertSketch.run(contributionId, section, kind, merged.encode());
    }
  }

  /** The id of a `section\0service\0protocol\0cipher\0rating` key, created on first use. */
  private handshakeKey(key: string): number {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      const parts = splitKey(key);
      this.stmts.insertHandshakeKey.run(...parts);
      id = (this.stmts.selectHandshakeKey.get(...parts) as { id: number }).id;
      this.keyIds.set(key, id);
    }
    return id;
  }

  /**
   * Which contributions of one hour count: the one covering most first (on a tie the later recording), then every
   * other that overlaps none already counted. Finished contributions inside a counted one are deleted.
   */
  private resolveHour(source: string, mta: string, hourMs: number): void {
    const rows = this.stmts.hourContributions.all(source, mta, hourMs) as ContributionRow[];
    rows.sort((a, b) => b.toMs - b.fromMs - (a.toMs - a.fromMs) || b.recordingId - a.recordingId || b.id - a.id);
    const counted: ContributionRow[] = [];
    for (const c of rows) {
      const picked = !counted.some((p) => spansOverlap(p, c));
      if (picked) counted.push(c);
      if (picked !== (c.effective === 1)) this.stmts.setEffective.run(picked ? 1 : 0, c.id);
      if (!picked && c.finished === 1 && counted.some((p) => p.fromMs <= c.fromMs && c.toMs <= p.toMs)) {
        this.stmts.deleteContribution.run(c.id);
      }
    }
  }

  /** Deletes the hours before `cutoffMs`; returns how many contributions went. */
  prune(cutoffMs: number): number {
    return this.guard(() => {
      const n = this.stmts.pruneContributions.run(cutoffMs).changes;
      if (n > 0) {
        this.stmts.pruneRecordings.run();
        this.stmts.pruneHandshakeKeys.run();
        this.keyIds.clear();
      }
      return n;
    });
  }

  /** Returns freed pages to the file system (outside a transaction). */
  compact(): void {
    this.guard(() => this.db.pragma('incremental_vacuum'));
  }

  overview(source: string | null = null): HistoryOverview {
    return this.guard(() => {
      const sources = (this.stmts.sources.all() as { source: string }[]).map((r) => r.source);
      const span = this.stmts.span.get(source, source) as { first: number | null; last: number | null };
      const recordings = (this.stmts.countRecordings.get() as { n: number }).n;
      return { sources, firstHourMs: span.first, lastHourMs: span.last, recordings };
    });
  }

  /** Counted data per UTC day of the window, days in order (days without data are absent). */
  loadDays(q: HistoryQuery): HistoryDay[] {
    return this.guard(() => {
      const days = new Map<number, HistoryDay>();
      const day = (dayMs: number): HistoryDay => {
        let d = days.get(dayMs);
        if (d === undefined) {
          d = { dayMs, observedHours: 0, sections: new Map() };
          days.set(dayMs, d);
        }
        return d;
      };
      const section = (dayMs: number, name: Section): DaySection => {
        const d = day(dayMs);
        let s = d.sections.get(name);
        if (s === undefined) {
          s = { totals: emptyHourTotals(), handshakes: new Map(), failures: new Map(), peers: new Map() };
          d.sections.set(name, s);
        }
        return s;
      };
      const where = ['c.effective = 1', 'c.hour_ms >= ?', 'c.hour_ms < ?'];
      const args: (string | number)[] = [q.sinceMs, q.untilMs];
      if (q.source !== null) {
        where.push('c.source = ?');
        args.push(q.source);
      }
      const observed = this.db
        .prepare(
          `SELECT ${DAY_OF('c.hour_ms')} AS dayMs, COUNT(DISTINCT c.hour_ms) AS hours FROM contributions c
           WHERE ${where.join(' AND ')} GROUP BY dayMs`,
        )
        .all(...args) as { dayMs: number; hours: number }[];
      for (const r of observed) day(r.dayMs).observedHours = r.hours;
      if (q.sections.length === 0) return [...days.values()].sort((a, b) => a.dayMs - b.dayMs);

      const sectionWhere = [...where, `x.section IN (${q.sections.map(() => '?').join(', ')})`];
      const sectionArgs: (string | number)[] = [...args, ...q.sections];
      const serviceWhere = [...sectionWhere];
      const serviceArgs = [...sectionArgs];
      if (q.services !== null) {
        // As the report's --service (serviceMatches): the name as logged, or a part before the daemon's.
        const match: string[] = [];
        for (const name of q.services) {
          match.push('x.service = ?');
          serviceArgs.push(name);
          if (!name.includes('/')) {
            match.push("instr('/' || x.service, '/' || ? || '/') > 0");
            serviceArgs.push(name);
          }
        }
        serviceWhere.push(`(${match.join(' OR ')})`);
      }
      const from = (table: string, conditions: string[]) =>
        `FROM ${table} x JOIN contributions c ON c.id = x.contribution_id WHERE ${conditions.join(' AND ')}`;

      const totals = this.db
        .prepare(
          `SELECT ${DAY_OF('c.hour_ms')} AS dayMs, x.section AS section,
             ${TOTAL_FIELDS.map((f) => `SUM(x.${TOTAL_COLUMNS[f]}) AS ${f}`).join(', ')}
           ${from('hour_totals', serviceWhere)} GROUP BY dayMs, x.section`,
        )
        .all(...serviceArgs) as ({ dayMs: number; section: Section } & HourTotals)[];
      for (const r of totals) {
        const t = section(r.dayMs, r.section).totals;
        for (const f of TOTAL_FIELDS) t[f] += r[f];
      }
      const handshakes = this.db
        .prepare(
          `SELECT ${DAY_OF('c.hour_ms')} AS dayMs, x.section AS section, x.protocol AS protocol, x.cipher AS cipher,
             x.rating AS rating, SUM(h.count) AS count
           FROM hour_handshakes h JOIN handshake_keys x ON x.id = h.key_id JOIN contributions c ON c.id = h.contribution_id
           WHERE ${serviceWhere.join(' AND ')} GROUP BY dayMs, x.section, x.protocol, x.cipher, x.rating`,
        )
        .all(...serviceArgs) as ({ dayMs: number; section: Section } & DayHandshakes)[];
      for (const r of handshakes) {
        const key = `${r.protocol}\u0000${r.cipher}\u0000${r.rating}`;
        section(r.dayMs, r.section).handshakes.set(key, {
          protocol: r.protocol,
          cipher: r.cipher,
          rating: r.rating,
          count: r.count,
        });
      }
      const failures = this.db
        .prepare(
          `SELECT ${DAY_OF('c.hour_ms')} AS dayMs, x.section AS section, x.reason AS reason, SUM(x.count) AS count
           ${from('hour_failures', serviceWhere)} GROUP BY dayMs, x.section, x.reason`,
        )
        .all(...serviceArgs) as { dayMs: number; section: Section; reason: string; count: number }[];
      for (const r of failures) section(r.dayMs, r.section).failures.set(r.reason, r.count);
      if (q.services === null) {
        const sketches = this.db
          .prepare(
            `SELECT ${DAY_OF('c.hour_ms')} AS dayMs, x.section AS section, x.kind AS kind, x.sketch AS sketch
             ${from('hour_peers', sectionWhere)}`,
          )
          .all(...sectionArgs) as { dayMs: number; section: Section; kind: PeerKind; sketch: Buffer }[];
        for (const r of sketches) {
          const decoded = PeerSketch.decode(r.sketch);
          if (decoded === null) {
            throw new CensusError('history-corrupt', `the history ${this.file} holds a peer sketch it cannot read`, {
              hint: 'it was damaged or written by another program; move it away and record again',
            });
          }
          const peers = section(r.dayMs, r.section).peers;
          const mine = peers.get(r.kind);
          if (mine === undefined) peers.set(r.kind, decoded);
          else mine.merge(decoded);
        }
      }
      return [...days.values()].sort((a, b) => a.dayMs - b.dayMs);
    });
  }
}

function currentVersion(db: Database.Database): number {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

function setUp(
  db: Database.Database,
  file: string,
  readonly: boolean,
  nowMs: number,
  toolVersion: string,
): Database.Database {
  // The first statement reads the header: a file that is not SQLite fails here (SQLITE_NOTADB).
  const appId = db.pragma('application_id', { simple: true }) as number;
  const objects = (db.prepare('SELECT COUNT(*) AS n FROM sqlite_master').get() as { n: number }).n;
  const fresh = appId === 0 && objects === 0;
  if (fresh && readonly) {
    throw new CensusError('history-empty', `${file} holds no history yet`, {
      hint: `record into it first: tlscensus report LOG --history ${file}`,
    });
  }
  if (!fresh && appId !== HISTORY_APPLICATION_ID) {
    throw new CensusError(
      'history-foreign',
      `${file} is an SQLite database of another program, not a tlscensus history`,
      {
        hint: 'give another --history file (tlscensus creates it)',
      },
    );
  }
  const version = fresh ? 0 : currentVersion(db);
  if (version > HISTORY_SCHEMA_VERSION) {
    throw new CensusError(
      'history-newer',
      `the history ${file} was written by a newer tlscensus (schema ${version}; this one knows up to ${HISTORY_SCHEMA_VERSION})`,
      { hint: 'upgrade tlscensus, or record into another file' },
    );
  }
  if (readonly) {
    if (version < HISTORY_SCHEMA_VERSION) {
      throw new CensusError('history-old', `the history ${file} has schema ${version}, older than this tlscensus`, {
        hint: `record into it once with this version (tlscensus report LOG --history ${file}) to upgrade it`,
      });
    }
    db.pragma('foreign_keys = ON');
    return db;
  }
  if (fresh) {
    // Both must be set before the first table exists.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma(`application_id = ${HISTORY_APPLICATION_ID}`);
  }
  // WAL: trend (and a cron report) can read while watch writes.
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  const migrate = db.transaction(() => {
    for (let v = currentVersionOrZero(db); v < HISTORY_SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
      db.prepare('INSERT INTO schema_migrations (version, applied_ms, tool_version) VALUES (?, ?, ?)').run(
        v + 1,
        nowMs,
        toolVersion,
      );
    }
  });
  migrate.immediate();
  return db;
}

function currentVersionOrZero(db: Database.Database): number {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  return exists ? currentVersion(db) : 0;
}

function prepare(db: Database.Database) {
  const totalsUpdate = TOTAL_COLS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ');
  const sql = (text: string) => db.prepare(text);
  return {
    insertRecording: sql(
      'INSERT INTO recordings (source, kind, inputs, tool_version, started_ms, finished_ms) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    updateRecording: sql(
      `UPDATE recordings SET
         first_ms = CASE WHEN @first IS NULL THEN first_ms ELSE min(coalesce(first_ms, @first), @first) END,
         last_ms = CASE WHEN @last IS NULL THEN last_ms ELSE max(coalesce(last_ms, @last), @last) END,
         sessions = sessions + @sessions, undated = undated + @undated
       WHERE id = @id`,
    ),
    finishRecording: sql('UPDATE recordings SET finished_ms = ? WHERE id = ?'),
    setAsideHours: sql(
      'SELECT source, mta, hour_ms AS hourMs FROM contributions WHERE recording_id = ? AND effective = 0',
    ),
    upsertContribution: sql(
      `INSERT INTO contributions (recording_id, source, mta, hour_ms, from_ms, to_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (recording_id, mta, hour_ms)
       DO UPDATE SET from_ms = min(from_ms, excluded.from_ms), to_ms = max(to_ms, excluded.to_ms)
       RETURNING id`,
    ),
    hourContributions: sql(
      `SELECT c.id AS id, c.from_ms AS fromMs, c.to_ms AS toMs, c.recording_id AS recordingId,
         c.effective AS effective, (r.finished_ms IS NOT NULL) AS finished
       FROM contributions c JOIN recordings r ON r.id = c.recording_id
       WHERE c.source = ? AND c.mta = ? AND c.hour_ms = ?`,
    ),
    setEffective: sql('UPDATE contributions SET effective = ? WHERE id = ?'),
    deleteContribution: sql('DELETE FROM contributions WHERE id = ?'),
    upsertTotals: sql(
      `INSERT INTO hour_totals (contribution_id, section, service, ${TOTAL_COLS.join(', ')})
       VALUES (?, ?, ?, ${TOTAL_COLS.map(() => '?').join(', ')})
       ON CONFLICT (contribution_id, section, service) DO UPDATE SET ${totalsUpdate}`,
    ),
    insertHandshakeKey: sql(
      `INSERT INTO handshake_keys (section, service, protocol, cipher, rating) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),
    selectHandshakeKey: sql(
      'SELECT id FROM handshake_keys WHERE section = ? AND service = ? AND protocol = ? AND cipher = ? AND rating = ?',
    ),
    upsertHandshakes: sql(
      `INSERT INTO hour_handshakes (contribution_id, key_id, count) VALUES (?, ?, ?)
       ON CONFLICT (contribution_id, key_id) DO UPDATE SET count = count + excluded.count`,
    ),
    pruneHandshakeKeys: sql(
      'DELETE FROM handshake_keys WHERE NOT EXISTS (SELECT 1 FROM hour_handshakes h WHERE h.key_id = handshake_keys.id)',
    ),
    upsertFailures: sql(
      `INSERT INTO hour_failures (contribution_id, section, service, reason, count) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (contribution_id, section, service, reason) DO UPDATE SET count = count + excluded.count`,
    ),
    selectSketch: sql('SELECT sketch FROM hour_peers WHERE contribution_id = ? AND section = ? AND kind = ?'),
    upsertSketch: sql(
      `INSERT INTO hour_peers (contribution_id, section, kind, sketch) VALUES (?, ?, ?, ?)
       ON CONFLICT (contribution_id, section, kind) DO UPDATE SET sketch = excluded.sketch`,
    ),
    pruneContributions: sql('DELETE FROM contributions WHERE hour_ms < ?'),
    pruneRecordings: sql(
      `DELETE FROM recordings WHERE finished_ms IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM contributions c WHERE c.recording_id = recordings.id)`,
    ),
    sources: sql('SELECT DISTINCT source FROM contributions WHERE effective = 1 ORDER BY source'),
    span: sql(
      `SELECT MIN(hour_ms) AS first, MAX(hour_ms) AS last FROM contributions
       WHERE effective = 1 AND (? IS NULL OR source = ?)`,
    ),
    countRecordings: sql('SELECT COUNT(*) AS n FROM recordings'),
  };
}
