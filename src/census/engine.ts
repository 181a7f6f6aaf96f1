// The per-line engine: bytes → outcome → observations → sessions → view. One engine reads inputs one after
// another (a session may continue from maillog.1 into maillog); `census()` drives it over files, `watch`
// over followed files, workers over byte ranges. The hot path (DESIGN.md §3): find the program from the
// bytes, drop lines of programs no dialect claims (`foreign`) and lines without any of the claiming
// dialect's keywords (`unrecognized`) without decoding them; only the rest become strings.

import { addSession, type CensusView, emptyView } from '../aggregate/census-view.js';
import { Correlator } from '../correlate/correlator.js';
import { type Dialect, type Interpreter, MALFORMED } from '../dialects/dialect.js';
import { WallClock, YearResolver, type Zone } from '../envelope/clock.js';
import { locateProgram } from '../envelope/locate-program.js';
import { type EnvelopeContext, parseEnvelope } from '../envelope/parse-envelope.js';
import { CensusError, EXIT } from '../model/errors.js';
import { type Coverage, emptyCoverage, type LineOutcome, type Session } from '../model/types.js';
import type { SessionFilter } from './session-filter.js';

export interface UnparsedSample {
  source: string;
  line: number;
  outcome: LineOutcome | 'overlong';
  text: string;
}

export interface EngineOptions {
  dialects: readonly Dialect[];
  zone: Zone;
  /** --year: the year of the first RFC 3164 line of each input. */
  year: number | null;
  filter: (s: Session) => boolean;
  /** How many malformed lines to keep as samples (`--show-unparsed`). */
  maxSamples?: number;
  /** Stop when this many lines were read and no dialect claimed any (0: never). */
  giveUpAfterLines?: number;
  idleTtlMs?: number;
}

interface DialectSlot {
  dialect: Dialect;
  keywords: Buffer[];
  interpret: Interpreter;
}

const SAMPLE_CHARS = 300;

export class CensusEngine {
  readonly view: CensusView = emptyView();
  readonly coverage: Coverage = emptyCoverage();
  readonly samples: UnparsedSample[] = [];
  /** Programs of lines no dialect claimed, with counts (kept small): named when nothing was recognised. */
  readonly foreignPrograms = new Map<string, number>();
  private readonly correlator: Correlator;
  private readonly byProgram = new Map<string, DialectSlot | null>();
  private slots: DialectSlot[] = [];
  private envCtx: EnvelopeContext;
  private sourceName = '';
  private lineNo = 0;
  private claimed = 0;
  private readonly maxSamples: number;
  private readonly giveUpAfter: number;

  constructor(private readonly options: EngineOptions) {
    this.correlator = new Correlator(
      (s) => this.acceptSession(s),
      options.idleTtlMs ? { idleTtlMs: options.idleTtlMs } : {},
    );
    this.envCtx = { clock: new WallClock(options.zone), years: new YearResolver(options.year, Date.now()) };
    this.maxSamples = options.maxSamples ?? 20;
    this.giveUpAfter = options.giveUpAfterLines ?? 0;
  }

  /** Start an input: fresh per-input dialect state and year inference from its mtime. */
  beginSource(name: string, mtimeMs: number | null): void {
    this.sourceName = name;
    this.lineNo = 0;
    this.envCtx = {
      clock: this.envCtx.clock,
      years: new YearResolver(this.options.year, mtimeMs ?? Date.now()),
    };
    this.slots = this.options.dialects.map((dialect) => ({
      dialect,
      keywords: dialect.keywords.map((k) => Buffer.from(k, 'latin1')),
      interpret: dialect.createInterpreter(),
    }));
    this.byProgram.clear();
  }

  line(buf: Buffer, start: number, end: number): void {
    const cov = this.coverage;
    cov.lines++;
    this.lineNo++;
    const program = locateProgram(buf, start, end);
    if (program === null) {
      this.slowLine(buf.toString('utf8', start, end));
      return;
    }
    const slot = this.slotFor(program);
    if (slot === null) {
      cov.foreign++;
      this.noteForeign(program);
      return;
    }
    this.claimed++;
    if (!hasKeyword(buf, start, end, slot.keywords)) {
      cov.unrecognized++;
      return;
    }
    const text = buf.toString('utf8', start, end);
    const env = parseEnvelope(text, this.envCtx);
    if (env === null) {
      this.record('malformed', text);
      return;
    }
    this.interpret(slot, env, text);
  }

  /** A line too long to be a log line: counted as malformed, never buffered whole. */
  overlong(bytes: number): void {
    this.coverage.lines++;
    this.lineNo++;
    this.record('overlong', `(${bytes} bytes)`);
  }

  /** All inputs read: close open sessions and return the result. */
  finish(): { view: CensusView; coverage: Coverage; samples: UnparsedSample[]; claimedLines: number } {
    this.correlator.flush();
    return { view: this.view, coverage: this.coverage, samples: this.samples, claimedLines: this.claimed };
  }

  /** Close sessions idle for longer than the TTL at `nowMs` (follow mode: wall clock, when caught up). */
  expireIdle(nowMs: number): void {
    this.correlator.expireIdle(nowMs);
  }

  /** Connections open right now (memory is bounded by these). */
  get openSessions(): number {
    return this.correlator.openCount;
  }

  get claimedLines(): number {
    return this.claimed;
  }

  /** Lines whose shape the byte scan was unsure of (journald JSON, docker prefixes, odd stamps). */
  private slowLine(text: string): void {
    const env = parseEnvelope(text, this.envCtx);
    if (env === null) {
      this.coverage.foreign++;
      this.checkGiveUp();
      return;
    }
    const slot = this.slotFor(env.program);
    if (slot === null) {
      this.coverage.foreign++;
      this.noteForeign(env.program);
      return;
    }
    this.claimed++;
    if (!slot.dialect.keywords.some((k) => env.message.includes(k))) {
      this.coverage.unrecognized++;
      return;
    }
    this.interpret(slot, env, text);
  }

  private interpret(slot: DialectSlot, env: Parameters<Interpreter>[0], text: string): void {
    let result: ReturnType<Interpreter>;
    try {
      result = slot.interpret(env);
    } catch {
      // A dialect must never throw; if one does, the line is malformed and reading goes on.
      result = MALFORMED;
    }
    if (result === MALFORMED) {
      this.record('malformed', text);
      return;
    }
    if (result === null || result.length === 0) {
      this.coverage.unrecognized++;
      return;
    }
    this.coverage.events++;
    for (const o of result) this.correlator.observe(o);
  }

  private slotFor(program: string): DialectSlot | null {
    let slot = this.byProgram.get(program);
    if (slot === undefined) {
      slot = this.slots.find((s) => s.dialect.claims(program)) ?? null;
      if (this.byProgram.size < 10_000) this.byProgram.set(program, slot);
    }
    return slot;
  }

  private record(outcome: 'malformed' | 'overlong', text: string): void {
    this.coverage.malformed++;
    if (this.samples.length < this.maxSamples) {
      this.samples.push({ source: this.sourceName, line: this.lineNo, outcome, text: text.slice(0, SAMPLE_CHARS) });
    }
  }

  private noteForeign(program: string): void {
    if (this.foreignPrograms.size < 64 || this.foreignPrograms.has(program)) {
      this.foreignPrograms.set(program, (this.foreignPrograms.get(program) ?? 0) + 1);
    }
    this.checkGiveUp();
  }

  private checkGiveUp(): void {
    if (this.giveUpAfter > 0 && this.claimed === 0 && this.coverage.lines === this.giveUpAfter) {
      throw nothingClaimedError(this.coverage.lines, this.foreignPrograms, this.options.dialects);
    }
  }

  private acceptSession(s: Session): void {
    if (this.options.filter(s)) addSession(this.view, s);
  }
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

function hasKeyword(buf: Buffer, start: number, end: number, keywords: readonly Buffer[]): boolean {
  const line = buf.subarray(start, end);
  for (let i = 0; i < keywords.length; i++) if (line.indexOf(keywords[i]!) >= 0) return true;
  return false;
}

export type { SessionFilter };
