// Streams one input as lines, without turning them into strings: the hot path hands (buffer, start, end)
// to a synchronous sink, chunk by chunk (DESIGN.md §3). Handles .gz (detected by magic bytes, not by
// name) through node:zlib, CRLF, a last line without newline, and lines too long to be log lines.

import fs from 'node:fs';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { type InputSpec, readSpan } from './resolve-inputs.js';

export interface LineSink {
  /** One line, `\n` and a trailing `\r` removed. The buffer is only valid during the call. */
  line(buf: Buffer, start: number, end: number): void;
  /** A line longer than `maxLineBytes`: its bytes were dropped, but it still counts as a line. */
  overlong(bytes: number): void;
  /**
   * Optional, for speed: a run of whole lines, buf[start, end) with `end - 1` a `\n`, each meaning exactly what
   * `line` (or `overlong`, by the rules of `splitRun`) would mean for it. One call per chunk instead of one per
   * line lets the sink scan the run as a whole (DESIGN.md §3).
   */
  lines?(buf: Buffer, start: number, end: number): void;
}

export interface SourceIssue {
  path: string;
  kind: 'truncated-gzip' | 'corrupt-gzip' | 'io';
  message: string;
}

export interface ReadResult {
  path: string;
  /** Bytes of log text read (after decompression). */
  bytes: number;
  issue: SourceIssue | null;
}

export interface ReadOptions {
  maxLineBytes?: number;
  /** Called after each chunk with the bytes consumed from the underlying file (compressed for .gz). */
  progress?: (fileBytes: number) => void;
  highWaterMark?: number;
  /** Only the bytes [start, end) of a plain file (a range census: both on line starts; no end: to the end). */
  range?: { start: number; end: number | null };
  /** Checked after each chunk: true ends the read there (a range census's worker giving up early). */
  stop?: () => boolean;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/**
 * Whether the file at `p` starts with gzip's magic bytes. Only a regular file is looked at: opening a named pipe
 * to look would take a reader from its writer (which may then die of SIGPIPE, leaving the real read waiting for
 * ever), and its bytes cannot be read again anyway.
 */
export function isGzipFile(p: string): boolean {
  let fd: number | null = null;
  try {
    if (!fs.statSync(p).isFile()) return false;
    fd = fs.openSync(p, 'r');
    return hasGzipMagic(fd);
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** isGzipFile for an input, through its pinned descriptor when it has one. */
export function isGzipInput(input: InputSpec): boolean {
  if (input.fd === undefined) return input.path !== '-' && isGzipFile(input.path);
  try {
    return fs.fstatSync(input.fd).isFile() && hasGzipMagic(input.fd);
  } catch {
    return false;
  }
}

const PROC_FDS = '/proc/self/fd';
let procFds: boolean | null = null;

/**
 * The path to open to read an input: for a pinned one, its descriptor's entry in /proc/self/fd (Linux), which
 * opens the file the descriptor holds even after a rename, with a descriptor of its own that the stream may
 * close; where there is no /proc, the path.
 */
export function pathToOpen(input: InputSpec): string {
  if (input.fd === undefined) return input.path;
  procFds ??= fs.existsSync(PROC_FDS);
  return procFds ? `${PROC_FDS}/${input.fd}` : input.path;
}

/**
 * `use` with a descriptor of the input: its pinned one (left open), or one opened for the call (closed after);
 * null if the file cannot be opened or read (planning reads, which must never fail the census: the read itself
 * reports what is wrong with the file).
 */
export function withDescriptor<T>(input: InputSpec, use: (fd: number) => T): T | null {
  let fd: number | null = null;
  try {
    fd = input.fd ?? fs.openSync(input.path, 'r');
    return use(fd);
  } catch {
    return null;
  } finally {
    if (fd !== null && input.fd === undefined) fs.closeSync(fd);
  }
}

/** An error of reading a pinned input, naming the file rather than its /proc/self/fd entry. */
export function namingFile(input: InputSpec, e: unknown): NodeJS.ErrnoException {
  const err = e as NodeJS.ErrnoException;
  if (input.fd === undefined || typeof err?.message !== 'string') return err;
  const opened = pathToOpen(input);
  if (opened === input.path || !err.message.includes(opened)) return err;
  const named = new Error(err.message.replaceAll(opened, input.path)) as NodeJS.ErrnoException;
  if (err.code !== undefined) named.code = err.code;
  return named;
}

function hasGzipMagic(fd: number): boolean {
  const head = Buffer.alloc(2);
  const n = fs.readSync(fd, head, 0, 2, 0);
  return n === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
}

/** An input as a stream of log bytes: `raw` is what is read (its `bytesRead` is progress), `stream` the text. */
export interface OpenedInput {
  raw: Readable;
  stream: AsyncIterable<Buffer>;
  gzip: boolean;
}

export function openInput(
  input: InputSpec,
  highWaterMark: number,
  range?: { start: number; end: number | null },
): OpenedInput {
  if (input.path === '-') return { raw: process.stdin, stream: stdinText(process.stdin, highWaterMark), gzip: false };
  const file = pathToOpen(input);
  if (range !== undefined) {
    // createReadStream's end is inclusive (callers never ask for an empty range). Without an end the range reads
    // to the end of the file as it is then, like a whole-file read (a live log may have grown since it was sized).
    const raw =
      range.end === null
        ? fs.createReadStream(file, { highWaterMark, start: range.start })
        : fs.createReadStream(file, { highWaterMark, start: range.start, end: range.end - 1 });
    return { raw, stream: raw, gzip: false };
  }
  const raw = fs.createReadStream(file, { highWaterMark });
  const gzip = isGzipInput(input);
  // zlib inflates on libuv's thread pool: with room for 8 chunks of output it keeps inflating while this thread
  // counts lines (at the default 16 KiB it would stop after every chunk until that one was read).
  if (!gzip) return { raw, stream: raw, gzip };
  // (zlib streams take Transform's options; @types/node does not list them.)
  const options = { chunkSize: highWaterMark, readableHighWaterMark: 8 * highWaterMark } as zlib.ZlibOptions;
  const inflate = zlib.createGunzip(options);
  return { raw, stream: inflatedWithRecovery(raw.pipe(inflate), file), gzip };
}

/**
 * Standard input as text: inflated when it starts with gzip's magic bytes (`cat maillog.2.gz | tlscensus -`, or
 * `journalctl … | gzip`), else as it comes. (It cannot be read twice: a damaged stream keeps what zlib handed on.)
 */
async function* stdinText(stdin: Readable, highWaterMark: number): AsyncGenerator<Buffer> {
  const chunks = (stdin as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  // Two bytes tell: a pipe may hand them over one at a time.
  let head: Buffer = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) break;
    head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  }
  if (!(head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1)) {
    yield* all();
    return;
  }
  yield* gunzipInPieces(all(), highWaterMark);
}

/** Compressed bytes of standard input fed to zlib at a time (what a damaged stream loses, at most). */
const STDIN_PIECE = 64 << 10;

/**
 * Inflates `source` a piece at a time, handing on each piece's output before the next is fed: so the output
 * before a failure is all passed on, however slowly it is read (a stream's buffer is lost when it fails; a
 * second review found the chunk pipeline lost 9 MiB of a damaged stream the one-thread read kept).
 */
async function* gunzipInPieces(source: AsyncIterable<Buffer>, chunkSize: number): AsyncGenerator<Buffer> {
  const inflate = zlib.createGunzip({ chunkSize });
  const out: Buffer[] = [];
  let error: unknown = null;
  let settle: (() => void) | null = null;
  inflate.on('data', (chunk: Buffer) => out.push(chunk));
  inflate.on('error', (e) => {
    error = e;
    settle?.();
  });
  inflate.on('end', () => settle?.());
  // Settled by the write's callback, or by the end or an error (a failing write may never call back).
  const fed = (piece: Buffer | null) =>
    new Promise<void>((resolve) => {
      settle = resolve;
      if (piece === null) inflate.end();
      else inflate.write(piece, () => resolve());
    });
  try {
    for await (const chunk of source) {
      for (let at = 0; at < chunk.length && error === null; at += STDIN_PIECE) {
        await fed(chunk.subarray(at, at + STDIN_PIECE));
        while (out.length > 0) yield out.shift()!;
      }
      if (error !== null) throw error;
    }
    await fed(null);
    while (out.length > 0) yield out.shift()!;
    if (error !== null) throw error;
  } finally {
    inflate.destroy();
  }
}

/**
 * The inflated text of a .gz, all of it that can be inflated. When zlib fails (bytes after the last member, a
 * corrupt block, a wrong checksum) it drops the output of the whole input chunk it was working on, megabytes of
 * good lines (a review: 3,956 of a 9 MB log's 60,036 lines lost to one byte after a complete member, which
 * `gzip -dc` inflates whole). So then the file is inflated once more from its start, and what the stream dropped is
 * handed on before the error is thrown (`lostToError`).
 */
async function* inflatedWithRecovery(stream: Readable, file: string): AsyncGenerator<Buffer> {
  let passed = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      passed += chunk.length;
      yield chunk;
    }
  } catch (e) {
    if (typeof (e as NodeJS.ErrnoException)?.code === 'string' && (e as NodeJS.ErrnoException).code!.startsWith('Z_')) {
      for (const chunk of await lostToError(file, passed)) yield chunk;
    }
    throw e;
  }
}

/** Compressed bytes fed to zlib at a time while finding where it fails: then 512 at a time, then one. */
const RECOVERY_STEP = 64 << 10;
const RECOVERY_FINE_STEP = 512;

/**
 * The text a .gz inflates to past its first `passed` bytes, up to the byte where inflating fails. zlib loses the
 * output of the write that fails (of one byte, at most a match), so the file is inflated in pieces three times:
 * to find the 64 KiB piece it fails in, then the 512 bytes, then with that piece fed a byte at a time. At most what
 * a stream holds before it is read (OpenedInput's 8 chunks) comes back; nothing if the file cannot be read again.
 */
async function lostToError(file: string, passed: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  try {
    const coarse = await inflateInPieces(
      file,
      () => RECOVERY_STEP,
      () => {},
    );
    if (coarse === null) return [];
    const fine = await inflateInPieces(
      file,
      (at) => (at < coarse ? RECOVERY_STEP : RECOVERY_FINE_STEP),
      () => {},
    );
    if (fine === null) return [];
    let produced = 0;
    const pieceAt = (at: number) => (at < coarse ? RECOVERY_STEP : at < fine ? RECOVERY_FINE_STEP : 1);
    await inflateInPieces(file, pieceAt, (chunk) => {
      const from = Math.max(0, passed - produced);
      produced += chunk.length;
      if (from < chunk.length) out.push(chunk.subarray(from));
    });
  } catch {
    return []; // (the file cannot be read again: what the stream gave stands)
  }
  return out;
}

/**
 * Feeds the .gz `file` to a fresh gunzip in pieces (`pieceAt(offset)` bytes from each offset, never across a
 * multiple of RECOVERY_STEP), handing its output to `onData`, until zlib fails; returns the offset of the piece it
 * failed in, or null if it did not.
 */
async function inflateInPieces(
  file: string,
  pieceAt: (offset: number) => number,
  onData: (chunk: Buffer) => void,
): Promise<number | null> {
  const inflate = zlib.createGunzip();
  inflate.on('data', onData);
  let failed = false;
  // A failing write may never call back: the error settles it.
  let settle: ((ok: boolean) => void) | null = null;
  inflate.on('error', () => {
    failed = true;
    settle?.(false);
  });
  const write = (piece: Buffer) =>
    new Promise<boolean>((resolve) => {
      settle = resolve;
      inflate.write(piece, (err) => resolve(!failed && (err === null || err === undefined)));
    });
  const handle = await fs.promises.open(file, 'r');
  try {
    for (let at = 0; ; ) {
      const size = Math.min(pieceAt(at), RECOVERY_STEP - (at % RECOVERY_STEP));
      const piece = Buffer.alloc(size);
      const { bytesRead } = await handle.read(piece, 0, size, at);
      if (bytesRead === 0) {
        // A truncated file fails only when it ends (and then the whole stream's buffer was lost): at its end.
        const ended = new Promise<boolean>((resolve) => {
          settle = resolve;
          inflate.on('end', () => resolve(true));
          inflate.end();
        });
        return (await ended) && !failed ? null : at;
      }
      if (failed || !(await write(piece.subarray(0, bytesRead)))) return at;
      at += bytesRead;
    }
  } finally {
    inflate.destroy();
    await handle.close();
  }
}

export async function readLines(input: InputSpec, sink: LineSink, options: ReadOptions = {}): Promise<ReadResult> {
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const highWaterMark = options.highWaterMark ?? 1 << 20;
  const splitter = new LineSplitter(sink, maxLine);
  const range = options.range ?? (input.startAt || input.endAt !== undefined ? readSpan(input) : undefined);
  const { raw, stream, gzip } = openInput(input, highWaterMark, range);
  let bytes = 0;
  let issue: SourceIssue | null = null;
  // Errors of the sink (the census itself) are not read errors: they propagate unchanged.
  let sinkError: unknown = null;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      try {
        splitter.push(chunk);
      } catch (e) {
        sinkError = e;
        break;
      }
      options.progress?.((raw as fs.ReadStream).bytesRead ?? bytes);
      if (options.stop?.()) break;
    }
  } catch (e) {
    // In a range, the bytes before it count too: the message is the one a whole-file read would give.
    issue = describeReadError(input.path, namingFile(input, e), gzip, raw, (range?.start ?? 0) + bytes);
  } finally {
    if (gzip) raw.destroy();
  }
  if (sinkError !== null) throw sinkError;
  splitter.end();
  return { path: input.path, bytes, issue };
}

export function describeReadError(
  p: string,
  e: NodeJS.ErrnoException,
  gzip: boolean,
  raw: Readable,
  bytes: number,
): SourceIssue {
  // (Standard input is inflated when it holds gzip, told by its first bytes: zlib's error codes say so then.)
  const zlibError = gzip || (typeof e.code === 'string' && e.code.startsWith('Z_'));
  const offset = (raw as fs.ReadStream).bytesRead;
  const at = offset === undefined ? '' : ` at compressed byte ${offset}`;
  if (zlibError && (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message))) {
    return {
      path: p,
      kind: 'truncated-gzip',
      message: `${p}: gzip data ends early (truncated${at}, after ${bytes} bytes of log); the lines before that point are counted`,
    };
  }
  if (zlibError && (e.code === 'Z_DATA_ERROR' || /incorrect header|invalid/i.test(e.message))) {
    return {
      path: p,
      kind: 'corrupt-gzip',
      message: `${p}: gzip data is corrupt${offset === undefined ? '' : ` near compressed byte ${offset}`} (${e.message}); the ${bytes} bytes of log before it are counted`,
    };
  }
  return { path: p, kind: 'io', message: `${p}: read failed after ${bytes} bytes (${e.message})` };
}

/**
 * Hands each line of the run buf[start, end) (`end - 1` a `\n`) to `sink.line`, or `sink.overlong` when longer
 * than `maxLine`: what a sink's `lines` must mean. A line's length leaves out the `\n` and a `\r` before it.
 */
export function splitRun(sink: LineSink, maxLine: number, buf: Buffer, start: number, end: number): void {
  let pos = start;
  while (pos < end) {
    const nl = buf.indexOf(10, pos);
    const stop = nl > pos && buf[nl - 1] === 13 ? nl - 1 : nl;
    if (stop - pos > maxLine) sink.overlong(stop - pos);
    else sink.line(buf, pos, stop);
    pos = nl + 1;
  }
}

/**
 * Splits chunks into lines, carrying a partial last line over to the next chunk. Where chunks are cut never
 * changes the lines, their lengths or what counts as over-long, so any reader (streams, byte ranges read by
 * workers) sees the same lines.
 */
export class LineSplitter {
  private carry: Buffer | null = null;
  /** Bytes of an over-long line dropped so far (0: not dropping). */
  private dropping = 0;
  /** The last byte dropped: a `\r` before the `\n` is not part of the line. */
  private droppedLast = 0;

  constructor(
    private readonly sink: LineSink,
    private readonly maxLine: number,
  ) {}

  push(chunk: Buffer): void {
    let pos = 0;
    if (this.dropping > 0 || this.carry !== null) {
      const nl = chunk.indexOf(10);
      if (nl < 0) {
        this.accumulate(chunk);
        return;
      }
      this.accumulate(chunk.subarray(0, nl));
      this.flushCarry();
      pos = nl + 1;
    }
    const last = chunk.lastIndexOf(10);
    if (last >= pos) {
      if (this.sink.lines) this.sink.lines(chunk, pos, last + 1);
      else splitRun(this.sink, this.maxLine, chunk, pos, last + 1);
      pos = last + 1;
    }
    if (pos < chunk.length) this.accumulate(chunk.subarray(pos));
  }

  end(): void {
    if (this.carry !== null || this.dropping > 0) this.flushCarry();
  }

  private accumulate(part: Buffer): void {
    if (part.length === 0) return;
    if (this.dropping > 0) {
      this.dropping += part.length;
      this.droppedLast = part[part.length - 1]!;
      return;
    }
    const have = this.carry?.length ?? 0;
    // One byte of slack: a `\r` that turns out to end the line is not counted against the limit.
    if (have + part.length > this.maxLine + 1) {
      this.dropping = have + part.length;
      this.droppedLast = part[part.length - 1]!;
      this.carry = null;
      return;
    }
    // Copy: the chunk's memory is reused by the stream after this call.
    this.carry = this.carry === null ? Buffer.from(part) : Buffer.concat([this.carry, part]);
  }

  private flushCarry(): void {
    if (this.dropping > 0) {
      this.sink.overlong(this.droppedLast === 13 ? this.dropping - 1 : this.dropping);
      this.dropping = 0;
      return;
    }
    const c = this.carry;
    this.carry = null;
    if (c === null) return;
    const end = c.length > 0 && c[c.length - 1] === 13 ? c.length - 1 : c.length;
    if (end > this.maxLine) this.sink.overlong(end);
    else this.sink.line(c, 0, end);
  }
}
