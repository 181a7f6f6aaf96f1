// `report --since 1d` over weeks of log: the lines long before the window cannot change what it counts, so they
// are skipped instead of parsed — the head of each file up to the window's approach, and .gz files wholly
// before it. And with `--until`, the lines long after the window at the end of the logs (`seekWindowEnd`, at
// the end of this comment).
//
// Which lines. A report counts the sessions that start in the window (session-filter.ts). Lines dated before
// `since − WARMUP_MS` cannot touch such a session: a session still open when the window starts was active within
// the idle TTL (1 h) plus a sweep period before it, or it would have been swept, so one pass and a read that
// starts WARMUP_MS (3 h) earlier both see it begin before the window and leave it out; a session that starts in
// the window is made of lines dated in the window; the fallback detector looks back one hour. And since sweeps
// fall on fixed periods of log time (correlator.ts), both reads sweep alike once the log's time has passed the
// skipped lines' latest (a sweep before that which closes a session makes the census read everything). But a
// session kept alive across the skip point lacks, in this read, what its skipped lines set, and a later handshake,
// failure or delivery reads that to decide whether it starts another session: the correlator marks such sessions
// partial and tells when one decides (CorrelatorOptions.partialBeforeMs), and the census then reads everything
// (census.ts). All that holds for the correlator and the fallback detector, which forget with time; not for the
// interpreters of dialects that keep state across lines with no time limit (Exim and Sendmail per process id,
// OpenSMTPD, Exchange): skipping stops at the first line of one of their programs.
//
// Proved, not guessed. A log is not always in time order (a clock stepped back, lines merged from hosts), so
// bisecting on timestamps would be a guess. Each skipped line is looked at — its stamp, read from the bytes as
// the engine's fast path reads it (FastEnvelope), and its program — and skipping stops at the first line that is
// not provably early and harmless: dated at or after that point, with a stamp or a shape the byte scan does not
// read (which the engine might place anywhere), or of a stateful dialect's program. That is a newline search, a
// tag and a stamp per line, about a sixth of the census's cost per line.
//
// One pass gives up with "nothing recognised" when the first 50,000 lines hold none of a mail program; so lines
// are skipped only if one of those is among the first 50,000, and the engine is told how many skipped lines its
// dialects claim. Plain files stay inputs, read from where skipping stopped (`InputSpec.startAt`): a live log
// may have grown since it was proved early. A .gz cannot be entered midway: it is skipped whole or read whole;
// proving one early means inflating it (node:zlib, on the thread pool, two at once), about 1.2 s of a core per
// inflated GiB against 3.5 for the census, so it is tried only while the files' times say they ended before
// that point (a rotated log's mtime is its last write): the mtime chooses what to try, the stamps prove.
// Not with `--year` (a line's year then depends on the lines before it), `--history` (it records every session,
// in the window or not) or a tap on the sessions (census.ts); not into standard input or anything but a
// readable regular file.
//
// The end. Lines dated at or after `until + WARMUP_MS` cannot start a session the report counts (it counts by
// start, and a session starts at its first line); they can only continue one. So the census reads up to the
// first of the late lines at the end of the inputs (`InputSpec.endAt`; files and .gz wholly late are not read)
// and then checks that no session of the window was still open there (CensusEngine.windowOpenAtEnd: those
// `finish` closed): if one was, it reads everything instead. The late lines are proved as the early ones are, searched
// from the end backwards (the last line of a file, which may still be growing, alone first); a file that grew
// meanwhile has its new lines proved once the census has read (`tailStillProved`). "Nothing recognised" cannot
// be decided on lines never read, so a read that met no line of a mail program reads everything instead too.

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Dialect } from '../dialects/dialect.js';
import { parseZone, WallClock, YearResolver } from '../envelope/clock.js';
import { FastEnvelope } from '../envelope/fast-envelope.js';
import { locateTag, newTagSpan, TAG_SYSLOG } from '../envelope/locate-program.js';
import type { EnvelopeContext } from '../envelope/parse-envelope.js';
import { isGzipInput, openInput, pathToOpen } from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';
import { WARMUP_MS } from './range-census.js';

const CHUNK_BYTES = 4 << 20;
/** `Mmm dd HH:MM:SS` and its space. */
const RFC3164_STAMP = 16;
/** A line longer than this ends the skipping (the engine counts such a line as malformed: it is left to it). */
const MAX_LINE_BYTES = 64 * 1024;
/** .gz files proved at once: two at a time (the cores of a small server), none started after one fails. */
const GZIP_AT_ONCE = 2;
/** Program names cached by their bytes, at most (a forged log may name a new one per line). */
const MAX_CACHED_PROGRAMS = 1024;

export interface SeekOptions {
  sinceMs: number;
  timezone: string | undefined;
  dialects: readonly Dialect[];
  /** One pass gives up when this many lines from the start hold none of a program a dialect claims. */
  giveUpAfterLines: number;
  progress?: (input: InputSpec, fileBytes: number) => void;
  /** Threads the census may use (default 1): with two or more, a long head is proved on two (`earlyLinesSplit`). */
  threads?: number;
  /** A file's head is proved on two threads only when the file is at least this big. */
  splitMinBytes?: number;
}

/** What was skipped of an input. */
export interface SkippedPart {
  input: InputSpec;
  bytes: number;
  lines: number;
  /** The input is not read at all (a .gz); else it is read from `startAt`. */
  dropped: boolean;
}

export interface WindowSeek {
  /** The inputs left to read, plain files among them with `startAt`. */
  inputs: InputSpec[];
  /** What was skipped, per input, in input order. */
  skipped: SkippedPart[];
  /** Skipped lines written by programs a dialect claims (one pass would have counted them as claimed). */
  claimedLines: number;
  /** Every skipped line is dated before this (`since − WARMUP_MS`). */
  skippedBeforeMs: number;
  /** The latest time among the skipped lines. */
  skippedLatestMs: number;
  /** Worker threads whose proof was used (`earlyLinesSplit`); the skip is the same either way. */
  workers: number;
}

/** What a run of skipped lines held. */
export interface Run {
  bytes: number;
  lines: number;
  claimed: number;
  /** The 1-based number, within the run, of its first claimed line; 0 when none. */
  firstClaimed: number;
  /** The latest time among its lines (-Infinity: none). */
  latestMs: number;
}

/**
 * Skips, from the start of `inputs`, the lines proved dated before `sinceMs − WARMUP_MS` and harmless; null when
 * nothing is skipped.
 */
export async function seekWindow(inputs: readonly InputSpec[], options: SeekOptions): Promise<WindowSeek | null> {
  const before = options.sinceMs - WARMUP_MS;
  const programs = new ProgramKinds(options.dialects);
  const skipped: SkippedPart[] = [];
  const kept: InputSpec[] = [];
  let lines = 0;
  let claimed = 0;
  let firstClaimed = 0;
  let latest = Number.NEGATIVE_INFINITY;
  let workers = 0;
  const add = (run: Run) => {
    if (run.latestMs > latest) latest = run.latestMs;
    if (firstClaimed === 0 && run.firstClaimed > 0) firstClaimed = lines + run.firstClaimed;
    lines += run.lines;
    claimed += run.claimed;
  };
  let i = 0;
  while (i < inputs.length) {
    const input = inputs[i]!;
    if (!seekable(input)) break;
    if (isGzipInput(input)) {
      // The run of .gz files whose times say they ended early enough, proved side by side; skipped up to the first
      // that is not wholly early.
      let j = i;
      while (j < inputs.length && seekable(inputs[j]!) && isGzipInput(inputs[j]!) && inputs[j]!.mtimeMs! < before) j++;
      if (j === i) break;
      const early = { beforeMs: before, fromMs: Number.POSITIVE_INFINITY };
      const runs = await provedInOrder(inputs.slice(i, j), (gz) => outsideInflated(gz, early, options, programs));
      for (const [k, run] of runs.entries()) {
        skipped.push({ input: inputs[i + k]!, bytes: run.bytes, lines: run.lines, dropped: true });
        add(run);
      }
      i += runs.length;
      if (i < j) break;
      continue;
    }
    let run: Run;
    let reachedEnd: boolean;
    let split: boolean;
    try {
      ({ run, reachedEnd, split } = await earlyLinesSplit(input, before, options, programs));
    } catch {
      break; // (unreadable: the census reads it and says so)
    }
    if (run.lines === 0) break;
    if (split) workers++;
    skipped.push({ input, bytes: run.bytes, lines: run.lines, dropped: false });
    add(run);
    kept.push({ ...input, startAt: { byte: run.bytes, line: run.lines } });
    i++;
    if (!reachedEnd) break;
  }
  // One pass would give up before the first mail line: leave that to it.
  if (skipped.length === 0 || firstClaimed === 0 || firstClaimed > options.giveUpAfterLines) return null;
  return {
    inputs: [...kept, ...inputs.slice(i)],
    skipped,
    claimedLines: claimed,
    skippedBeforeMs: before,
    skippedLatestMs: latest,
    workers,
  };
}

export interface TailSeekOptions {
  untilMs: number;
  timezone: string | undefined;
  dialects: readonly Dialect[];
  progress?: (input: InputSpec, fileBytes: number) => void;
  /** As SeekOptions: with two threads or more, a long end is proved on two (`lateLinesSplit`). */
  threads?: number;
  splitMinBytes?: number;
}

/** A file's size as it is now; null if it cannot be looked at. */
function sizeNow(input: InputSpec): number | null {
  try {
    return (input.fd !== undefined ? fs.fstatSync(input.fd) : fs.statSync(input.path)).size;
  } catch {
    return null;
  }
}

/** A plain file whose end was proved late, as it was then: to check again once the census has read (`tailStillProved`). */
interface ProvedEnd {
  input: InputSpec;
  /** Its size when proved. */
  size: number;
  /** Where its last line starts when that line had no newline yet (the file may be growing), else `size`. */
  provedTo: number;
  /** What was proved from `provedTo` on: that last line, or nothing. */
  lastLine: Run;
}

export interface WindowTail {
  /** The inputs left to read: those proved wholly late are gone, and the last one may end early (`endAt`). */
  inputs: InputSpec[];
  /** What was skipped, per input, in input order. */
  skipped: SkippedPart[];
  /** Skipped lines written by programs a dialect claims. */
  claimedLines: number;
  /** Every skipped line is dated at or after this (`until + WARMUP_MS`). */
  skippedFromMs: number;
  proved: ProvedEnd[];
  /** Worker threads whose proof was used (`lateLinesSplit`); the skip is the same either way. */
  workers: number;
}

/**
 * Skips, from the end of `inputs`, the lines proved dated at or after `untilMs + WARMUP_MS` and harmless: .gz
 * files and plain files wholly, or the end of a plain file (`endAt`); null when nothing is skipped. The census
 * must then check that it holds: no session of the window may still be open where it stopped reading
 * (CensusEngine.windowOpenAtEnd), and the files must still end as proved (`tailStillProved`).
 */
export async function seekWindowEnd(
  inputs: readonly InputSpec[],
  options: TailSeekOptions,
): Promise<WindowTail | null> {
  const late: Outside = { beforeMs: Number.NEGATIVE_INFINITY, fromMs: options.untilMs + WARMUP_MS };
  const programs = new ProgramKinds(options.dialects);
  const skipped: SkippedPart[] = [];
  const proved: ProvedEnd[] = [];
  let claimed = 0;
  let workers = 0;
  let cut: InputSpec | null = null;
  let i = inputs.length; // inputs[i…] are skipped
  while (i > 0 && cut === null) {
    const input = inputs[i - 1]!;
    if (!seekable(input, true)) break;
    if (isGzipInput(input)) {
      // The run of .gz files, newest first, whose times say they were written to after that point (a .gz last
      // written before it cannot hold only later lines); skipped down to the first that is not wholly late.
      let j = i;
      while (j > 0 && seekable(inputs[j - 1]!) && isGzipInput(inputs[j - 1]!) && inputs[j - 1]!.mtimeMs! >= late.fromMs)
        j--;
      if (j === i) break;
      const newestFirst = inputs.slice(j, i).reverse();
      const runs = await provedInOrder(newestFirst, (gz) => outsideInflated(gz, late, options, programs));
      for (const [k, run] of runs.entries()) {
        skipped.push({ input: newestFirst[k]!, bytes: run.bytes, lines: run.lines, dropped: true });
        claimed += run.claimed;
      }
      i -= runs.length;
      if (runs.length < newestFirst.length) break;
      continue;
    }
    const size = sizeNow(input);
    if (size !== null && size === (input.startAt?.byte ?? 0)) {
      // Nothing to read (a log just rotated with `create`): passed over, and proved again after the census, as the
      // file may have had lines written to it since. (Read instead, lines after the stop could close a session of
      // the window by a sweep, which would hide it from the check.)
      skipped.push({ input, bytes: 0, lines: 0, dropped: true });
      proved.push({ input, size, provedTo: size, lastLine: freshRun() });
      i--;
      continue;
    }
    let end: LateEnd;
    try {
      end = await lateLines(input, late, options, programs, (bytes) => options.progress?.(input, bytes));
    } catch {
      break; // (unreadable: the census reads it and says so)
    }
    if (end.run.lines === 0) break;
    if (end.split) workers++;
    const from = input.startAt?.byte ?? 0;
    const dropped = end.start <= from;
    skipped.push({ input, bytes: end.size - end.start, lines: end.run.lines, dropped });
    claimed += end.run.claimed;
    proved.push({ input, size: end.size, provedTo: end.provedTo, lastLine: end.lastLine });
    if (!dropped) cut = { ...input, endAt: end.start };
    i--;
  }
  if (skipped.length === 0) return null;
  skipped.reverse();
  return {
    inputs: cut === null ? inputs.slice(0, i) : [...inputs.slice(0, i), cut],
    skipped,
    claimedLines: claimed,
    skippedFromMs: late.fromMs,
    proved,
    workers,
  };
}

/**
 * Whether the lines the census left unread at the end still are all late and harmless, now that it has read the
 * rest: a plain file that grew since was proved only up to its size then (and its last line, if it had no newline
 * yet, only as far as it went), so its new bytes are proved now; a file that shrank was rewritten: false. The
 * skipped parts take in the lines proved now.
 */
export function tailStillProved(tail: WindowTail, timezone: string | undefined, dialects: readonly Dialect[]): boolean {
  const programs = new ProgramKinds(dialects);
  for (const p of tail.proved) {
    const size = sizeNow(p.input);
    if (size === p.size) continue;
    if (size === null || size < p.size) return false;
    const run = provedFrom(
      p.input,
      p.provedTo,
      { beforeMs: Number.NEGATIVE_INFINITY, fromMs: tail.skippedFromMs },
      timezone,
      programs,
    );
    if (run === null) return false;
    const part = tail.skipped.find((s) => s.input === p.input)!;
    part.bytes += size - p.size;
    part.lines += run.lines - p.lastLine.lines;
    tail.claimedLines += run.claimed - p.lastLine.claimed;
  }
  return true;
}

/** What the end of a plain file held: the late lines from `start` to `size`. */
interface LateEnd {
  start: number;
  size: number;
  /** Where its last line starts when that line has no newline yet, else `size`. */
  provedTo: number;
  /** That line (no lines when there is none). */
  lastLine: Run;
  /** All of them, that line included. */
  run: Run;
  /** Proved on two threads (`lateLinesSplit`). */
  split: boolean;
}

/**
 * The run of late, harmless lines at the end of a plain file (not before its `startAt`), read backwards in
 * blocks: where it starts, and what it held. The file's last line counts even without a newline (the census reads
 * it so), but only as far as it went: `provedTo` says where it starts.
 */
async function lateLines(
  input: InputSpec,
  late: Outside,
  options: Pick<TailSeekOptions, 'timezone' | 'threads' | 'splitMinBytes' | 'dialects'>,
  programs: ProgramKinds,
  progress: (bytes: number) => void,
): Promise<LateEnd> {
  const check = new LineCheck(late, input.mtimeMs, options.timezone, programs);
  const floor = input.startAt?.byte ?? 0;
  const fd = input.fd ?? fs.openSync(pathToOpen(input), 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const total = freshRun();
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const nothing = { start: size, size, provedTo: size, lastLine: freshRun(), run: total, split: false };
    let hi = size; // the lines from hi on are late
    // The last line, if it has no newline yet, alone: it may still be growing (tailStillProved proves it again).
    let lastLine = freshRun();
    if (size > floor) {
      const lo = Math.max(floor, size - CHUNK_BYTES);
      const n = fs.readSync(fd, buf, 0, size - lo, lo);
      if (n !== size - lo) return nothing;
      if (buf[n - 1] !== 10) {
        const nl = buf.lastIndexOf(10, n - 1);
        if (nl < 0 && lo > floor) return nothing; // (a line longer than a block: longer than any the census reads)
        if (check.lastFailure(buf, nl + 1, n) >= 0) return nothing;
        lastLine = check.run;
        addRun(total, lastLine);
        hi = lo + nl + 1;
      }
    }
    const provedTo = hi;
    const proved = await lateLinesSplit(fd, provedTo, floor, late, input, options, check, total, (bytes) =>
      progress(size - provedTo + bytes),
    );
    hi = proved.hi;
    progress(size - hi);
    total.bytes = size - hi;
    return { start: hi, size, provedTo, lastLine, run: total, split: proved.split };
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/**
 * Proves backwards from `hi` (a line start) down to `floor` (a line start): the late lines' run goes into `total`;
 * returns where they start (`floor` when every line is late). `progress` gets the bytes proved below `from`;
 * `halted`, asked before each chunk, ends it early.
 */
export function lateLinesDownFrom(
  fd: number,
  from: number,
  floor: number,
  check: LineCheck,
  total: Run,
  progress?: (bytes: number) => void,
  halted?: () => boolean,
): number {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let hi = from;
  while (hi > floor && !halted?.()) {
    const lo = Math.max(floor, hi - CHUNK_BYTES);
    const n = fs.readSync(fd, buf, 0, hi - lo, lo);
    if (n !== hi - lo) break; // (shrank meanwhile: the census finds out, tailStillProved)
    // The block's first whole line (a line that starts before the block is the next block's).
    let first = 0;
    if (lo > floor) {
      const nl = buf.indexOf(10);
      if (nl < 0 || nl + 1 >= n) break; // (a line longer than a block: longer than any the census reads)
      first = nl + 1;
    }
    const failEnd = check.lastFailure(buf, first, n);
    addRun(total, check.run);
    if (failEnd >= 0) {
      hi = lo + failEnd;
      break;
    }
    hi = lo + first;
    progress?.(from - hi);
  }
  return hi;
}

/**
 * `lateLinesDownFrom` on two threads for a long end (`splitMinBytes`), as `earlyLinesSplit` does for the head:
 * where the late lines begin is guessed by bisecting on stamps, this thread proves the later half of the guess
 * and a worker thread the earlier one, on down to its own first line that is not late. What the worker proved
 * counts only if every line of this thread's half passed.
 */
async function lateLinesSplit(
  fd: number,
  from: number,
  floor: number,
  late: Outside,
  input: InputSpec,
  options: Pick<TailSeekOptions, 'timezone' | 'threads' | 'splitMinBytes' | 'dialects'>,
  check: LineCheck,
  total: Run,
  progress: (bytes: number) => void,
): Promise<{ hi: number; split: boolean }> {
  const alone = () => ({ hi: lateLinesDownFrom(fd, from, floor, check, total, progress), split: false });
  const splitMin = options.splitMinBytes ?? Number.POSITIVE_INFINITY;
  if ((options.threads ?? 1) < 2 || from - floor < splitMin) return alone();
  const guess = guessLateStart(fd, floor, from, late.fromMs, check);
  const split = from - guess < splitMin ? -1 : lineStartAfter(fd, guess + Math.floor((from - guess) / 2));
  if (split <= floor || split >= from) return alone();
  const both = progressOfTwo(progress);
  const worker = startSeekWorker({ kind: 'late', floor, ...taskOf(fd, split, late, input, options) }, both.theirs);
  try {
    const hi = lateLinesDownFrom(fd, from, split, check, total, both.mine);
    if (hi > split) return { hi, split: false };
    const below = await worker.done;
    if (below === null || below.kind !== 'late') {
      // (The worker failed: this thread proves on, as one thread would have.)
      const rest = lateLinesDownFrom(fd, split, floor, check, total, (bytes) => progress(from - split + bytes));
      return { hi: rest, split: false };
    }
    addRun(total, below.run);
    return { hi: below.hi, split: true };
  } finally {
    // (Before the file is closed: the worker may be reading it.)
    await worker.end();
  }
}

/**
 * Where the lines dated at or after `fromMs` seem to begin in [floor, to), bisecting on the stamps of single lines
 * (a line that cannot be dated counts as not late). Only a guess: a log need not be in time order.
 */
function guessLateStart(fd: number, floor: number, to: number, fromMs: number, check: LineCheck): number {
  return bisectOnStamps(fd, floor, to, check, (t) => !(t !== null && t >= fromMs)).hi;
}

function addRun(into: Run, run: Run): void {
  into.lines += run.lines;
  into.claimed += run.claimed;
  if (run.latestMs > into.latestMs) into.latestMs = run.latestMs;
}

/**
 * The lines of a plain file from `from` (a line start) to its end when every one of them is outside and harmless
 * (the last counts without a newline, as the census reads it); null otherwise.
 */
function provedFrom(
  input: InputSpec,
  from: number,
  outside: Outside,
  timezone: string | undefined,
  programs: ProgramKinds,
): Run | null {
  const check = new LineCheck(outside, input.mtimeMs, timezone, programs);
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const total = freshRun();
  const fd = input.fd ?? fs.openSync(pathToOpen(input), 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let at = from;
    while (at < size) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK_BYTES, size - at), at);
      if (n <= 0) return null;
      const endsFile = at + n === size;
      const whole = endsFile ? n : buf.lastIndexOf(10, n - 1) + 1;
      if (whole === 0) return null; // (a line longer than a block)
      if (check.lastFailure(buf, 0, whole) >= 0) return null;
      addRun(total, check.run);
      at += whole;
    }
    total.bytes = size - from;
    return total;
  } catch {
    return null;
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/**
 * A readable regular file of known size (not stdin, a pipe, a device), not already read from a line on (unless
 * `fromLineOk`: the window's end may be sought in a file whose head was skipped) nor up to one.
 */
function seekable(input: InputSpec, fromLineOk = false): boolean {
  if (
    input.path === '-' ||
    input.sizeBytes === null ||
    (input.startAt !== undefined && !fromLineOk) ||
    input.endAt !== undefined ||
    input.mtimeMs === null
  ) {
    return false;
  }
  try {
    return (input.fd !== undefined ? fs.fstatSync(input.fd) : fs.statSync(input.path)).isFile();
  } catch {
    return false;
  }
}

/** The results of `prove` for the first of `inputs` up to the first that is not proved (null), in order. */
async function provedInOrder<T>(
  inputs: readonly InputSpec[],
  prove: (input: InputSpec) => Promise<T | null>,
): Promise<T[]> {
  const results: (T | null | undefined)[] = [];
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < inputs.length) {
      const k = next++;
      results[k] = await prove(inputs[k]!);
      if (results[k] === null) failed = true;
    }
  };
  await Promise.all(Array.from({ length: GZIP_AT_ONCE }, lane));
  const out: T[] = [];
  for (const r of results) {
    if (r === null || r === undefined) break;
    out.push(r);
  }
  return out;
}

/** Whether a program is one a dialect claims, and whether that dialect keeps state across lines; by tag bytes. */
export class ProgramKinds {
  static readonly FOREIGN = 0;
  static readonly CLAIMED = 1;
  static readonly STATEFUL = 2;
  private readonly byBytes = new Map<number, { bytes: Buffer; kind: number }[]>();
  private cached = 0;

  constructor(private readonly dialects: readonly Dialect[]) {}

  /** The kind of the program whose tag is buf[start, end) (its bytes hash to `h`). */
  kindAt(buf: Buffer, start: number, end: number, h: number): number {
    let bucket = this.byBytes.get(h);
    if (bucket !== undefined) {
      for (const e of bucket) if (sameBytes(e.bytes, buf, start, end)) return e.kind;
    }
    if (this.cached >= MAX_CACHED_PROGRAMS) {
      this.byBytes.clear();
      this.cached = 0;
      bucket = undefined;
    }
    const name = buf.toString('utf8', start, end);
    const dialect = this.dialects.find((d) => d.claims(name));
    const kind =
      dialect === undefined
        ? ProgramKinds.FOREIGN
        : dialect.stateless === true
          ? ProgramKinds.CLAIMED
          : ProgramKinds.STATEFUL;
    const entry = { bytes: Buffer.from(buf.subarray(start, end)), kind };
    if (bucket === undefined) this.byBytes.set(h, [entry]);
    else bucket.push(entry);
    this.cached++;
    return kind;
  }
}

/** Where a skipped line's time must be: before `beforeMs` or from `fromMs` on. */
interface Outside {
  beforeMs: number;
  fromMs: number;
}

const freshRun = (): Run => ({ bytes: 0, lines: 0, claimed: 0, firstClaimed: 0, latestMs: Number.NEGATIVE_INFINITY });

/**
 * Reads whole lines as the engine reads their stamps and programs, and tells how many are dated outside the window
 * (early or late) and harmless.
 */
export class LineCheck {
  private readonly ctx: EnvelopeContext;
  private readonly fast = new FastEnvelope();
  private readonly span = newTagSpan();
  /** The last RFC 3164 stamp read (with its space) and its time: most lines share their second with the line before. */
  private readonly last = Buffer.alloc(RFC3164_STAMP);
  private lastMs = Number.NaN;
  /** What the lines passed so far held. */
  run: Run = freshRun();

  constructor(
    private readonly outside: Outside,
    mtimeMs: number | null,
    timezone: string | undefined,
    private readonly programs: ProgramKinds,
  ) {
    this.ctx = { clock: new WallClock(parseZone(timezone)), years: new YearResolver(null, mtimeMs ?? Date.now()) };
  }

  /**
   * Passes the whole lines at the start of buf[0, n) that are early and harmless (into `run`); returns the bytes
   * passed, and whether the line after them is not (else the bytes end inside it).
   */
  scan(buf: Buffer, n: number): { bytes: number; stopped: boolean } {
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= n) {
        this.run.bytes += pos;
        return { bytes: pos, stopped: n - pos > MAX_LINE_BYTES };
      }
      const end = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - pos > MAX_LINE_BYTES || !this.passes(buf, pos, end)) {
        this.run.bytes += pos;
        return { bytes: pos, stopped: true };
      }
      pos = nl + 1;
    }
  }

  /**
   * Checks every line of buf[from, n) (`from` a line start; bytes after the last `\n` are a line too: callers pass
   * them only at a file's end) into a fresh `run`; returns the offset just past the last line that does not pass,
   * or -1 when all do (then `run` holds them all, else the lines after that one).
   */
  lastFailure(buf: Buffer, from: number, n: number): number {
    this.run = freshRun();
    let failEnd = -1;
    let pos = from;
    while (pos < n) {
      let nl = buf.indexOf(10, pos);
      if (nl < 0 || nl >= n) nl = n; // (a file's last line, without a newline)
      const end = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
      if (end - pos > MAX_LINE_BYTES || !this.passes(buf, pos, end)) {
        failEnd = Math.min(nl + 1, n);
        this.run = freshRun();
      }
      pos = nl + 1;
    }
    return failEnd;
  }

  /** The time of the line buf[pos, end) as `passes` reads it, or null when it cannot be dated so. */
  timeOfLine(buf: Buffer, pos: number, end: number): number | null {
    const span = this.span;
    return locateTag(buf, pos, end, span) === TAG_SYSLOG ? this.fast.timeOf(buf, pos, span, this.ctx) : null;
  }

  private passes(buf: Buffer, pos: number, end: number): boolean {
    const span = this.span;
    if (locateTag(buf, pos, end, span) !== TAG_SYSLOG) return false;
    const kind = this.programs.kindAt(buf, span.nameStart, span.nameEnd, span.nameHash);
    if (kind === ProgramKinds.STATEFUL) return false;
    let t: number | null;
    if (span.stamp === 1 && sameStamp(this.last, buf, pos)) t = this.lastMs;
    else {
      t = this.fast.timeOf(buf, pos, span, this.ctx);
      if (span.stamp === 1 && t !== null) {
        buf.copy(this.last, 0, pos, pos + RFC3164_STAMP);
        this.lastMs = t;
      }
    }
    if (t === null || !(t < this.outside.beforeMs || t >= this.outside.fromMs)) return false;
    const run = this.run;
    run.lines++;
    if (t > run.latestMs) run.latestMs = t;
    if (kind === ProgramKinds.CLAIMED) {
      run.claimed++;
      if (run.firstClaimed === 0) run.firstClaimed = run.lines;
    }
    return true;
  }
}

/**
 * The run of early, harmless lines from the start of a plain file, and whether it reached the file's end (as the
 * file is then). Stops at the first other line, and at a last line with no newline (the file may be growing).
 */
function earlyLines(
  input: InputSpec,
  beforeMs: number,
  options: Pick<SeekOptions, 'timezone' | 'progress'>,
  programs: ProgramKinds,
): { run: Run; reachedEnd: boolean } {
  const fd = input.fd ?? fs.openSync(pathToOpen(input), 'r');
  try {
    const check = new LineCheck(
      { beforeMs, fromMs: Number.POSITIVE_INFINITY },
      input.mtimeMs,
      options.timezone,
      programs,
    );
    return earlyLinesFrom(fd, 0, Number.POSITIVE_INFINITY, check, (bytes) => options.progress?.(input, bytes));
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/**
 * The run of early, harmless lines of the open file `fd` from byte `from` (a line's start) into `check.run`, up to
 * the first other line or `limit` (a line's start); whether it reached the file's end. `progress` gets the bytes
 * passed since `from`; `halted`, asked before each chunk, ends it early (a worker whose proof is not needed).
 */
export function earlyLinesFrom(
  fd: number,
  from: number,
  limit: number,
  check: LineCheck,
  progress?: (bytes: number) => void,
  halted?: () => boolean,
): { run: Run; reachedEnd: boolean } {
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  for (;;) {
    if (halted?.()) return { run: check.run, reachedEnd: false };
    const at = from + check.run.bytes;
    const n = fs.readSync(fd, buf, 0, Math.min(CHUNK_BYTES, limit - at), at);
    const { bytes, stopped } = check.scan(buf, n);
    progress?.(check.run.bytes);
    // (No whole line in a chunk: the end of the file or of the span, or a line longer than any the census reads.)
    if (stopped || bytes === 0) {
      return { run: check.run, reachedEnd: !stopped && from + check.run.bytes === fs.fstatSync(fd).size };
    }
  }
}

/**
 * `earlyLines` on two threads, for a file whose early head is long (`options.splitMinBytes`): where the early lines
 * end is guessed by bisecting on stamps, and the second half of that guess is proved by a worker thread
 * (seek-worker.ts) while this one proves the first. Each line is still proved, by one thread or the other: a guess
 * that is wrong costs time only. The worker goes on past the guess, to its first line that is not early; what it
 * proved counts only if this thread's half all passed.
 */
async function earlyLinesSplit(
  input: InputSpec,
  beforeMs: number,
  options: SeekOptions,
  programs: ProgramKinds,
): Promise<{ run: Run; reachedEnd: boolean; split: boolean }> {
  const threads = options.threads ?? 1;
  const splitMin = options.splitMinBytes ?? Number.POSITIVE_INFINITY;
  if (threads < 2 || input.sizeBytes === null || input.sizeBytes < splitMin) {
    return { ...earlyLines(input, beforeMs, options, programs), split: false };
  }
  const fd = input.fd ?? fs.openSync(pathToOpen(input), 'r');
  try {
    const outside = { beforeMs, fromMs: Number.POSITIVE_INFINITY };
    const check = new LineCheck(outside, input.mtimeMs, options.timezone, programs);
    const guess = guessEarlyEnd(fd, beforeMs, check);
    const split = guess < splitMin ? -1 : lineStartAfter(fd, Math.floor(guess / 2));
    if (split <= 0) {
      const all = earlyLinesFrom(fd, 0, Number.POSITIVE_INFINITY, check, (bytes) => options.progress?.(input, bytes));
      return { ...all, split: false };
    }
    const both = progressOfTwo((bytes) => options.progress?.(input, bytes));
    const worker = startSeekWorker({ kind: 'early', ...taskOf(fd, split, outside, input, options) }, both.theirs);
    try {
      const head = earlyLinesFrom(fd, 0, split, check, both.mine);
      if (head.run.bytes < split) return { ...head, split: false };
      const tail = await worker.done;
      if (tail === null || tail.kind !== 'early') {
        // (The worker failed: this thread proves on, as one thread would have.)
        const rest = earlyLinesFrom(fd, 0, Number.POSITIVE_INFINITY, check, (bytes) =>
          options.progress?.(input, bytes),
        );
        return { ...rest, split: false };
      }
      const run = check.run;
      if (run.firstClaimed === 0 && tail.run.firstClaimed > 0) run.firstClaimed = run.lines + tail.run.firstClaimed;
      run.bytes += tail.run.bytes;
      run.lines += tail.run.lines;
      run.claimed += tail.run.claimed;
      if (tail.run.latestMs > run.latestMs) run.latestMs = tail.run.latestMs;
      return { run, reachedEnd: tail.reachedEnd, split: true };
    } finally {
      // (Before the file is closed: the worker may be reading it.)
      await worker.end();
    }
  } finally {
    if (input.fd === undefined) fs.closeSync(fd);
  }
}

/**
 * What a seek worker (seek-worker.ts) is asked: prove the early lines of the open file `fd` from byte `from` on
 * (`early`), or its late lines from `from` down to `floor` (`late`).
 */
export type SeekTask = {
  fd: number;
  from: number;
  beforeMs: number;
  fromMs: number;
  mtimeMs: number | null;
  timezone: string | undefined;
  /** The census's dialects, by id, in order. */
  mta: string[];
} & ({ kind: 'early' } | { kind: 'late'; floor: number });

/** A SeekTask with `stop`, an Int32Array's buffer set to 1 when the proof is not needed any more. */
export type SeekJob = SeekTask & { stop: SharedArrayBuffer };

/** What a seek worker proved: early lines (and whether they reached the file's end), or late ones from `hi` on. */
export type SeekResult = { kind: 'early'; run: Run; reachedEnd: boolean } | { kind: 'late'; run: Run; hi: number };

export type SeekReply = { kind: 'progress'; bytes: number } | { kind: 'done'; result: SeekResult };

/** What every seek worker's task holds: the file, where to start, which lines pass, and how to read them. */
function taskOf(
  fd: number,
  from: number,
  outside: Outside,
  input: InputSpec,
  options: { timezone: string | undefined; dialects: readonly Dialect[] },
) {
  return {
    fd,
    from,
    beforeMs: outside.beforeMs,
    fromMs: outside.fromMs,
    mtimeMs: input.mtimeMs,
    timezone: options.timezone,
    mta: options.dialects.map((d) => d.id),
  };
}

/** Progress of a proof on two threads: each side reports its own bytes, `progress` gets their sum. */
function progressOfTwo(progress: (bytes: number) => void): {
  mine: (bytes: number) => void;
  theirs: (bytes: number) => void;
} {
  let mine = 0;
  let theirs = 0;
  return {
    mine: (bytes) => {
      mine = bytes;
      progress(mine + theirs);
    },
    theirs: (bytes) => {
      theirs = bytes;
      progress(mine + theirs);
    },
  };
}

/**
 * A seek worker, and what it proved (null if it failed: the caller proves on itself). `end` asks it to stop at
 * its next chunk and waits until it has exited. Never `Worker.terminate()` a busy one: Node 20 aborted the whole
 * process ("NodePlatform::ForIsolate … Assertion failed") when a worker was torn down while V8 still compiled
 * its code on another thread, as a test that stops the worker early met.
 */
function startSeekWorker(
  task: SeekTask,
  onProgress: (bytes: number) => void,
): { done: Promise<SeekResult | null>; end: () => Promise<void> } {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./seek-worker.js', import.meta.url), {
    workerData: { ...task, stop } satisfies SeekJob,
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const done = new Promise<SeekResult | null>((resolve) => {
    worker.on('message', (m: SeekReply) => {
      if (m.kind === 'progress') onProgress(m.bytes);
      else resolve(m.result);
    });
    worker.on('error', () => resolve(null));
    void exited.then(() => resolve(null));
  });
  const end = async () => {
    Atomics.store(new Int32Array(stop), 0, 1);
    await exited;
  };
  return { done, end };
}

/** Probes of `guessEarlyEnd`: each reads one line; the guess is then within size / 2^PROBES of a boundary. */
const PROBES = 16;
const PROBE_BYTES = 64 * 1024;

/**
 * Where the lines dated before `beforeMs` seem to end, bisecting on the stamps of single lines (a line that cannot
 * be dated counts as not early). Only a guess: a log need not be in time order.
 */
function guessEarlyEnd(fd: number, beforeMs: number, check: LineCheck): number {
  return bisectOnStamps(fd, 0, fs.fstatSync(fd).size, check, (t) => t !== null && t < beforeMs).lo;
}

/**
 * Bisects [lo, hi) of a file on the stamps of single lines (the first whole line at each probe; null when it cannot
 * be dated): `before(t)` says the boundary sought lies after that line. Up to PROBES probes.
 */
function bisectOnStamps(
  fd: number,
  from: number,
  to: number,
  check: LineCheck,
  before: (t: number | null) => boolean,
): { lo: number; hi: number } {
  const buf = Buffer.allocUnsafe(PROBE_BYTES);
  let lo = from;
  let hi = to;
  for (let k = 0; k < PROBES && hi - lo > PROBE_BYTES; k++) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const n = fs.readSync(fd, buf, 0, PROBE_BYTES, mid);
    const nl = buf.indexOf(10);
    const next = nl < 0 ? -1 : buf.indexOf(10, nl + 1);
    const t = next < 0 || next >= n ? null : check.timeOfLine(buf, nl + 1, next);
    if (before(t)) lo = mid;
    else hi = mid;
  }
  return { lo, hi };
}

/** The start of the first line that begins at or after `at` (the byte after a newline), or -1 if none is near. */
function lineStartAfter(fd: number, at: number): number {
  if (at <= 0) return 0;
  const buf = Buffer.allocUnsafe(PROBE_BYTES);
  const n = fs.readSync(fd, buf, 0, PROBE_BYTES, at - 1);
  const nl = buf.subarray(0, n).indexOf(10);
  return nl < 0 ? -1 : at + nl;
}

/**
 * The lines of a .gz when every one of them is dated outside the window and harmless; null when one is not, or the
 * file cannot be read to its end (a truncated file: the census reads it and says so).
 */
async function outsideInflated(
  input: InputSpec,
  outside: Outside,
  options: Pick<SeekOptions, 'timezone' | 'progress'>,
  programs: ProgramKinds,
): Promise<Run | null> {
  const check = new LineCheck(outside, input.mtimeMs, options.timezone, programs);
  let carry: Buffer | null = null;
  try {
    const { raw, stream } = openInput(input, 1 << 20);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        const buf: Buffer = carry === null ? chunk : Buffer.concat([carry, chunk]);
        const { bytes, stopped } = check.scan(buf, buf.length);
        if (stopped) return null;
        carry = bytes < buf.length ? buf.subarray(bytes) : null;
        options.progress?.(input, (raw as fs.ReadStream).bytesRead);
      }
    } finally {
      raw.destroy();
    }
  } catch {
    return null;
  }
  // A last line without a newline is read by the census as a line: it must pass too.
  if (carry !== null) {
    if (check.scan(Buffer.concat([carry, NEWLINE]), carry.length + 1).bytes === 0) return null;
    check.run.bytes--; // (the newline added)
  }
  return check.run;
}
const NEWLINE = Buffer.from('\n');

/** Whether the line at buf[pos] starts with the stamp `last` (a byte loop: a native compare per line costs more). */
function sameStamp(last: Buffer, buf: Buffer, pos: number): boolean {
  for (let i = RFC3164_STAMP - 1; i >= 0; i--) if (last[i] !== buf[pos + i]) return false;
  return true;
}

function sameBytes(a: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}
