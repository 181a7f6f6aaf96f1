// The per-line half of the engine: bytes → outcome → observations, handed to a sink. The census engine
// (engine.ts) puts a correlator behind it; a worker thread (census-worker.ts) an encoder that ships the
// observations to the main thread, which correlates them in order.
//
// The hot path (DESIGN.md §3), per run of whole lines in a chunk:
// - one `indexOf` per line for its end; the program tag is found by a byte scan (`locateTag`) and mapped to
//   its dialect through a cache keyed by the tag's bytes, so no string is made for it;
// - a program no dialect claims → `foreign`; none of the keywords of the claiming dialect for that program →
//   `unrecognized`. Keywords are searched in the run, not per line: each keyword remembers where it occurs
//   next, so one native search serves all the lines up to that occurrence;
// - otherwise the envelope comes from the bytes (`FastEnvelope`), only the message is decoded, and the
//   dialect's interpreter turns it into observations. Lines of unusual shape take the slow path: decode,
//   `parseEnvelope`, then the same steps.

import {
  type Dialect,
  HOLDS_NONE,
  type Interpreter,
  type KeywordTest,
  MALFORMED,
  NO_EVENT,
  UNSURE,
} from '../dialects/dialect.js';
import { hasEximMessageId } from '../dialects/exim.js';
import { WallClock, YearResolver, type Zone } from '../envelope/clock.js';
import { FastEnvelope } from '../envelope/fast-envelope.js';
import { locateTag, newTagSpan, TAG_EXIM, TAG_SYSLOG, TAG_UNSURE, type TagSpan } from '../envelope/locate-program.js';
import { CSV_PROGRAM, type EnvelopeContext, parseEnvelope } from '../envelope/parse-envelope.js';
import { CensusError, EXIT } from '../model/errors.js';
import { type Coverage, type Envelope, emptyCoverage, type LineOutcome, type Observation } from '../model/types.js';
import { DEFAULT_MAX_LINE_BYTES } from '../sources/read-lines.js';

export interface UnparsedSample {
  source: string;
  line: number;
  outcome: LineOutcome | 'overlong';
  text: string;
}

/** What a worker found in one chunk of whole lines (line numbers counted from the chunk's start). */
export interface ChunkCounts {
  coverage: Coverage;
  claimed: number;
  /** Foreign programs in the order first seen, with counts (all of them: the cap applies when merged). */
  foreign: [string, number][];
  samples: { line: number; outcome: 'malformed' | 'overlong'; text: string }[];
}

/** Where observations go. `defer`, when given, receives the lines of dialects that are not `stateless`. */
export interface ObservationSink {
  observe(o: Observation): void;
  defer?(dialect: number, env: Envelope, text: string, lineNo: number): void;
}

export interface LineEngineOptions {
  dialects: readonly Dialect[];
  zone: Zone;
  /** --year: the year of the first RFC 3164 line of each input. */
  year: number | null;
  /** How many malformed lines to keep as samples (`--show-unparsed`). */
  maxSamples?: number;
  /** Stop when this many lines were read and no dialect claimed any (0: never). */
  giveUpAfterLines?: number;
  maxLineBytes?: number;
}

/** What a program's lines are: claimed by which dialect (-1: none), and which keywords make a line relevant. */
interface ProgramInfo {
  name: string;
  dialect: number;
  keywordIds: number[];
  keywords: readonly string[];
  /** Dialect.keywordTestFor: a byte test of the message, tried before searching for keywords. */
  keywordTest: KeywordTest | null;
}

interface CacheEntry {
  bytes: Buffer;
  info: ProgramInfo;
}

const SAMPLE_CHARS = 300;
const MAX_CACHED_PROGRAMS = 4096;
const NOT_FOUND = Number.MAX_SAFE_INTEGER;
const CR = Buffer.from([13]);
/** The first byte of U+2028 and U+2029 (and of other characters): such lines take the slow path. */
const E2 = Buffer.from([0xe2]);

export class LineEngine {
  readonly coverage: Coverage = emptyCoverage();
  readonly samples: UnparsedSample[] = [];
  /** Programs of lines no dialect claimed, with counts (kept small): named when nothing was recognised. */
  readonly foreignPrograms = new Map<string, number>();
  protected readonly dialects: readonly Dialect[];
  /**
   * One interpreter per dialect for each rotation set, not per file: the state a dialect keeps across lines (Exim's
   * and Sendmail's per process, OpenSMTPD's per session) carries over a rotation, or a connection whose lines
   * span `mail.log.1` and `mail.log` was counted twice (a review). A range census therefore counts runs of whole
   * files apart only when they hold no such dialect's lines (input-ranges.ts).
   */
  protected interpreters: Interpreter[];
  /** The rotation set of the input read last (`beginSource`). */
  private rotationSet: string | null = null;
  private envCtx: EnvelopeContext;
  private sourceName = '';
  private lineNo = 0;
  private lineBase = 0;
  private claimed = 0;
  private readonly maxSamples: number;
  private readonly giveUpAfter: number;
  private readonly maxLine: number;
  private readonly span: TagSpan = newTagSpan();
  private readonly fast = new FastEnvelope();
  private readonly byName = new Map<string, ProgramInfo>();
  private readonly byBytes = new Map<number, CacheEntry[]>();
  private cachedPrograms = 0;
  private readonly keywordIds = new Map<string, number>();
  private keywordBufs: Buffer[] = [];
  private keywordNext: number[] = [];
  private runBuf: Buffer | null = null;
  private crNext = -1;
  private e2Next = -1;
  private readonly defers: boolean[];
  private readonly stateful: boolean[];
  /** Lines interpreted by dialects that keep state across lines (a range census cannot start those mid-file). */
  statefulLines = 0;
  /** Worker mode: foreign programs are all kept (per chunk), the main thread applies the cap when it merges. */
  private uncappedForeign = false;
  /** While a chunk's deferred lines are interpreted: their malformed samples, to merge in line order. */
  private pendingSamples: UnparsedSample[] | null = null;

  constructor(
    protected readonly options: LineEngineOptions,
    private readonly sink: ObservationSink,
  ) {
    this.dialects = options.dialects;
    this.envCtx = { clock: new WallClock(options.zone), years: new YearResolver(options.year, Date.now()) };
    this.maxSamples = options.maxSamples ?? 20;
    this.giveUpAfter = options.giveUpAfterLines ?? 0;
    this.maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.interpreters = this.dialects.map((d) => d.createInterpreter());
    this.defers = this.dialects.map((d) => sink.defer !== undefined && d.stateless !== true);
    this.stateful = this.dialects.map((d) => d.stateless !== true);
  }

  /**
   * Start an input: year inference from its mtime; the dialects' state goes on from the input before when both are
   * of one `rotationSet` (`interpreters`); `name` in samples, its lines numbered after `linesBefore` (lines skipped
   * unread, census/window-seek.ts).
   */
  beginSource(name: string, mtimeMs: number | null, linesBefore = 0, rotationSet: string | null = null): void {
    // The dialects' state goes on from the file before only within one rotation set: the logs of two servers, or
    // of unrelated files, have nothing to carry (a review: Exim's `[pid]` keys joined two servers' connections).
    if (rotationSet === null || rotationSet !== this.rotationSet) {
      this.interpreters = this.dialects.map((d) => d.createInterpreter());
    }
    this.rotationSet = rotationSet;
    this.sourceName = name;
    this.lineNo = linesBefore;
    this.envCtx = {
      clock: this.envCtx.clock,
      years: new YearResolver(this.options.year, mtimeMs ?? Date.now()),
    };
  }

  /**
   * The time no line can be later than, from which an RFC 3164 stamp's year is inferred (`beginSource` takes the
   * file's mtime): `watch` moves it on as it reads, or a watch started in November would date December's lines a
   * year back (a review). Not with --year, whose year follows the lines.
   */
  setYearReference(ms: number): void {
    if (this.options.year !== null) return;
    this.envCtx = { clock: this.envCtx.clock, years: new YearResolver(null, ms) };
  }

  get claimedLines(): number {
    return this.claimed;
  }

  /** The run buf[start, end) of whole lines (`end - 1` is a `\n`), as `splitRun` would hand them out. */
  lines(buf: Buffer, start: number, end: number): void {
    this.runBuf = buf;
    this.crNext = -1;
    this.e2Next = -1;
    const next = this.keywordNext;
    for (let i = 0; i < next.length; i++) next[i] = -1;
    try {
      let pos = start;
      while (pos < end) {
        const nl = buf.indexOf(10, pos);
        const stop = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
        if (stop - pos > this.maxLine) this.overlong(stop - pos);
        else this.oneLine(buf, pos, stop);
        pos = nl + 1;
      }
    } finally {
      this.runBuf = null;
    }
  }

  /** One line, `\n` and a trailing `\r` removed. */
  line(buf: Buffer, start: number, end: number): void {
    this.runBuf = null;
    this.oneLine(buf, start, end);
  }

  /** A line too long to be a log line: counted as malformed, never buffered whole. */
  overlong(bytes: number): void {
    this.coverage.lines++;
    this.lineNo++;
    this.record('overlong', `(${bytes} bytes)`, this.lineNo);
  }

  /** Worker side: count the next chunk on its own (line numbers from 1, no sample cap across chunks). */
  beginChunk(): void {
    const c = this.coverage;
    c.lines = 0;
    c.events = 0;
    c.unrecognized = 0;
    c.malformed = 0;
    c.foreign = 0;
    this.samples.length = 0;
    this.foreignPrograms.clear();
    this.uncappedForeign = true;
    this.claimed = 0;
    this.lineNo = 0;
  }

  /** Worker side: what `beginChunk` started counting. */
  chunkCounts(): ChunkCounts {
    return {
      coverage: { ...this.coverage },
      claimed: this.claimed,
      foreign: [...this.foreignPrograms.entries()],
      samples: this.samples.map((s) => ({
        line: s.line,
        outcome: s.outcome as 'malformed' | 'overlong',
        text: s.text,
      })),
    };
  }

  /**
   * Main side, in chunk order: add a worker's counts for the chunk that follows what was read so far, and run
   * `replay`, which hands its observations and deferred lines back (`observe`, `interpretDeferred`).
   */
  absorbChunk(counts: ChunkCounts, replay: () => void): void {
    const base = this.lineNo;
    const pending: UnparsedSample[] = [];
    this.pendingSamples = pending;
    this.lineBase = base;
    try {
      replay();
    } finally {
      this.pendingSamples = null;
      this.lineBase = 0;
    }
    this.addCounts(counts);
    this.lineNo = base + counts.coverage.lines;
    // Samples in line order, as one pass over the lines would have kept them.
    const merged: UnparsedSample[] = counts.samples.map((s) => ({
      source: this.sourceName,
      ...s,
      line: base + s.line,
    }));
    if (pending.length > 0) merged.push(...pending);
    merged.sort((a, b) => a.line - b.line);
    for (const s of merged) {
      if (this.samples.length >= this.maxSamples) break;
      this.samples.push(s);
    }
  }

  /**
   * Main side: whole inputs counted elsewhere after everything read here (a range census of a rotation set):
   * their counts, and their samples, which carry their own sources and line numbers, in order.
   */
  absorbInputs(counts: ChunkCounts, samples: readonly UnparsedSample[]): void {
    this.addCounts(counts);
    for (const s of samples) {
      if (this.samples.length >= this.maxSamples) break;
      this.samples.push(s);
    }
  }

  private addCounts(counts: ChunkCounts): void {
    const c = this.coverage;
    const d = counts.coverage;
    c.lines += d.lines;
    c.events += d.events;
    c.unrecognized += d.unrecognized;
    c.malformed += d.malformed;
    c.foreign += d.foreign;
    this.claimed += counts.claimed;
    for (const [program, n] of counts.foreign) {
      if (this.foreignPrograms.size < 64 || this.foreignPrograms.has(program)) {
        this.foreignPrograms.set(program, (this.foreignPrograms.get(program) ?? 0) + n);
      }
    }
  }

  /** Main side: an observation a worker made, in order. */
  observe(o: Observation): void {
    this.sink.observe(o);
  }

  private oneLine(buf: Buffer, start: number, end: number): void {
    const cov = this.coverage;
    cov.lines++;
    const lineNo = ++this.lineNo;
    const span = this.span;
    const tag = locateTag(buf, start, end, span);
    let info: ProgramInfo;
    if (tag === TAG_SYSLOG) info = this.programAt(buf, span.nameStart, span.nameEnd, span.nameHash);
    else if (tag === TAG_UNSURE) {
      this.slowLine(buf.toString('utf8', start, end), lineNo);
      return;
    } else info = this.programNamed(tag === TAG_EXIM ? 'exim' : CSV_PROGRAM);
    if (info.dialect < 0) {
      cov.foreign++;
      this.noteForeign(info.name);
      return;
    }
    // An Exim mainlog line is known by its stamp alone, which many other logs share (dpkg.log, Haraka): it counts
    // as a mail program's line (and keeps "nothing recognised" away) only with Exim's keywords or a message id.
    const exim = tag === TAG_EXIM;
    if (!exim) this.noteClaimed();
    const test =
      tag === TAG_SYSLOG && info.keywordTest !== null ? info.keywordTest(buf, span.tagSpace + 1, end) : UNSURE;
    if (
      test === HOLDS_NONE ||
      test === NO_EVENT ||
      (test === UNSURE && !this.hasKeyword(info.keywordIds, buf, start, end))
    ) {
      if (exim && hasEximMessageId(buf, start, end)) this.noteClaimed();
      cov.unrecognized++;
      return;
    }
    if (exim) this.noteClaimed();
    let env: Envelope | null = null;
    if (tag === TAG_SYSLOG && this.isPlain(buf, start, end)) {
      env = this.fast.build(buf, start, end, span, info.name, this.envCtx);
    }
    let text: string | null = null;
    if (env === null) {
      text = buf.toString('utf8', start, end);
      env = parseEnvelope(text, this.envCtx);
      if (env === null) {
        this.record('malformed', text, lineNo);
        return;
      }
    }
    this.interpret(info.dialect, env, text, buf, start, end, lineNo);
  }

  /** Lines whose shape the byte scan was unsure of (journald JSON, docker prefixes, odd stamps). */
  private slowLine(text: string, lineNo: number): void {
    const env = parseEnvelope(text, this.envCtx);
    if (env === null) {
      this.coverage.foreign++;
      this.checkGiveUp();
      return;
    }
    const info = this.programNamed(env.program);
    if (info.dialect < 0) {
      this.coverage.foreign++;
      this.noteForeign(env.program);
      return;
    }
    this.noteClaimed();
    if (!info.keywords.some((k) => env.message.includes(k))) {
      this.coverage.unrecognized++;
      return;
    }
    this.interpret(info.dialect, env, text, null, 0, 0, lineNo);
  }

  private interpret(
    dialect: number,
    env: Envelope,
    text: string | null,
    buf: Buffer | null,
    start: number,
    end: number,
    lineNo: number,
  ): void {
    if (this.stateful[dialect]) this.statefulLines++;
    if (this.defers[dialect]) {
      this.sink.defer!(dialect, env, text ?? buf!.toString('utf8', start, end), lineNo);
      return;
    }
    const result = this.runInterpreter(dialect, env);
    if (result === MALFORMED) {
      this.record('malformed', text ?? buf!.toString('utf8', start, end), lineNo);
      return;
    }
    if (result === null || result.length === 0) {
      this.coverage.unrecognized++;
      return;
    }
    this.coverage.events++;
    for (const o of result) this.sink.observe(o);
  }

  /**
   * Main side, inside `absorbChunk`: a deferred line (`lineNo` counted from the chunk's start), interpreted
   * here, in order, by the dialect's one stateful interpreter: what `interpret` would have done with it.
   */
  interpretDeferred(dialect: number, env: Envelope, text: string, lineNo: number): void {
    const result = this.runInterpreter(dialect, env);
    if (result === MALFORMED) {
      this.coverage.malformed++;
      this.pendingSamples?.push({
        source: this.sourceName,
        line: this.lineBase + lineNo,
        outcome: 'malformed',
        text: text.slice(0, SAMPLE_CHARS),
      });
      return;
    }
    if (result === null || result.length === 0) {
      this.coverage.unrecognized++;
      return;
    }
    this.coverage.events++;
    for (const o of result) this.sink.observe(o);
  }

  private runInterpreter(dialect: number, env: Envelope): ReturnType<Interpreter> {
    try {
      return this.interpreters[dialect]!(env);
    } catch {
      // A dialect must never throw; if one does, the line is malformed and reading goes on.
      return MALFORMED;
    }
  }

  /** No `\r` and no byte 0xE2 in the line: what FastEnvelope needs (see there). */
  private isPlain(buf: Buffer, start: number, end: number): boolean {
    const run = this.runBuf;
    if (run === null) {
      const line = buf.subarray(start, end);
      return line.indexOf(13) < 0 && line.indexOf(0xe2) < 0;
    }
    let cr = this.crNext;
    if (cr < start) {
      cr = run.indexOf(CR, start);
      this.crNext = cr = cr < 0 ? NOT_FOUND : cr;
    }
    if (cr < end) return false;
    let e2 = this.e2Next;
    if (e2 < start) {
      e2 = run.indexOf(E2, start);
      this.e2Next = e2 = e2 < 0 ? NOT_FOUND : e2;
    }
    return e2 >= end;
  }

  private hasKeyword(ids: readonly number[], buf: Buffer, start: number, end: number): boolean {
    const run = this.runBuf;
    if (run === null) {
      const line = buf.subarray(start, end);
      for (let i = 0; i < ids.length; i++) if (line.indexOf(this.keywordBufs[ids[i]!]!) >= 0) return true;
      return false;
    }
    // Each keyword remembers its next occurrence in the run: a line holds it iff that occurrence is inside it.
    const next = this.keywordNext;
    for (let i = 0; i < ids.length; i++) {
      const k = ids[i]!;
      const kw = this.keywordBufs[k]!;
      let at = next[k]!;
      if (at < start) {
        at = run.indexOf(kw, start);
        next[k] = at = at < 0 ? NOT_FOUND : at;
      }
      if (at + kw.length <= end) return true;
    }
    return false;
  }

  /** The program whose tag is buf[start, end) (its bytes hash to `h`), from a cache keyed by the bytes. */
  private programAt(buf: Buffer, start: number, end: number, h: number): ProgramInfo {
    let bucket = this.byBytes.get(h);
    if (bucket !== undefined) {
      for (let i = 0; i < bucket.length; i++) {
        const e = bucket[i]!;
        if (sameBytes(e.bytes, buf, start, end)) return e.info;
      }
    }
    if (this.cachedPrograms >= MAX_CACHED_PROGRAMS) {
      this.byBytes.clear();
      this.cachedPrograms = 0;
      bucket = undefined;
    }
    const entry: CacheEntry = {
      bytes: Buffer.from(buf.subarray(start, end)),
      info: this.programNamed(buf.toString('utf8', start, end)),
    };
    if (bucket === undefined) this.byBytes.set(h, [entry]);
    else bucket.push(entry);
    this.cachedPrograms++;
    return entry.info;
  }

  private programNamed(name: string): ProgramInfo {
    let info = this.byName.get(name);
    if (info !== undefined) return info;
    const dialect = this.dialects.findIndex((d) => d.claims(name));
    const keywords =
      dialect < 0 ? [] : (this.dialects[dialect]!.keywordsFor?.(name) ?? this.dialects[dialect]!.keywords);
    const keywordTest = dialect < 0 ? null : (this.dialects[dialect]!.keywordTestFor?.(name) ?? null);
    info = { name, dialect, keywords, keywordIds: keywords.map((k) => this.keywordId(k)), keywordTest };
    if (this.byName.size >= MAX_CACHED_PROGRAMS) this.byName.clear();
    this.byName.set(name, info);
    return info;
  }

  private keywordId(keyword: string): number {
    let id = this.keywordIds.get(keyword);
    if (id === undefined) {
      id = this.keywordBufs.length;
      this.keywordIds.set(keyword, id);
      this.keywordBufs = [...this.keywordBufs, Buffer.from(keyword, 'latin1')];
      this.keywordNext = [...this.keywordNext, -1];
    }
    return id;
  }

  private noteClaimed(): void {
    this.claimed++;
  }

  /**
   * Lines skipped unread (census/window-seek.ts) that a dialect claims: one pass would have counted them, and would
   * not give up on "nothing recognised".
   */
  claimSkipped(lines: number): void {
    this.claimed += lines;
  }

  protected record(outcome: 'malformed' | 'overlong', text: string, lineNo: number): void {
    this.coverage.malformed++;
    if (this.samples.length < this.maxSamples) {
      this.samples.push({ source: this.sourceName, line: lineNo, outcome, text: text.slice(0, SAMPLE_CHARS) });
    }
  }

  private noteForeign(program: string): void {
    if (this.uncappedForeign || this.foreignPrograms.size < 64 || this.foreignPrograms.has(program)) {
      this.foreignPrograms.set(program, (this.foreignPrograms.get(program) ?? 0) + 1);
    }
    this.checkGiveUp();
  }

  private checkGiveUp(): void {
    if (this.giveUpAfter > 0 && this.claimed === 0 && this.coverage.lines === this.giveUpAfter) {
      throw nothingClaimedError(this.coverage.lines, this.foreignPrograms, this.dialects);
    }
  }
}

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

export function nothingClaimedError(
  lines: number,
  programs: Map<string, number>,
  dialects: readonly Dialect[],
): CensusError {
  const seen = [...programs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([p, n]) => `${p} (${n})`)
    .join(', ');
  const names = dialects.map((d) => d.id).join(', ');
  return new CensusError(
    'nothing-recognised',
    `none of the first ${lines} lines comes from a mail server tlscensus reads (${names})${seen ? `; programs seen: ${seen}` : '; no syslog program names found'}`,
    {
      hint: 'point tlscensus at the mail log (e.g. /var/log/mail.log), or choose the MTA with --mta',
      exitCode: EXIT.noInput,
    },
  );
}
