// Streams one input as lines, without turning them into strings: the hot path hands (buffer, start, end)
// to a synchronous sink, chunk by chunk (DESIGN.md §3). Handles .gz (detected by magic bytes, not by
// name) through node:zlib, CRLF, a last line without newline, and lines too long to be log lines.

import fs from 'node:fs';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { InputSpec } from './resolve-inputs.js';

export interface LineSink {
  /** One line, `\n` and a trailing `\r` removed. The buffer is only valid during the call. */
  line(buf: Buffer, start: number, end: number): void;
  /** A line longer than `maxLineBytes`: its bytes were dropped, but it still counts as a line. */
  overlong(bytes: number): void;
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
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export function isGzipFile(p: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(p, 'r');
    const head = Buffer.alloc(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    return n === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

export async function readLines(input: InputSpec, sink: LineSink, options: ReadOptions = {}): Promise<ReadResult> {
  const maxLine = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const highWaterMark = options.highWaterMark ?? 1 << 20;
  const splitter = new LineSplitter(sink, maxLine);
  let raw: Readable;
  let stream: Readable;
  let gzip = false;
  if (input.path === '-') {
    raw = process.stdin;
    stream = raw;
  } else {
    raw = fs.createReadStream(input.path, { highWaterMark });
    gzip = isGzipFile(input.path);
    stream = gzip ? raw.pipe(zlib.createGunzip({ chunkSize: highWaterMark })) : raw;
  }
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
    }
  } catch (e) {
    issue = describeReadError(input.path, e as NodeJS.ErrnoException, gzip, raw, bytes);
  } finally {
    if (gzip) raw.destroy();
  }
  if (sinkError !== null) throw sinkError;
  splitter.end();
  return { path: input.path, bytes, issue };
}

function describeReadError(
  p: string,
  e: NodeJS.ErrnoException,
  gzip: boolean,
  raw: Readable,
  bytes: number,
): SourceIssue {
  const fileOffset = (raw as fs.ReadStream).bytesRead ?? 0;
  if (gzip && (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message))) {
    return {
      path: p,
      kind: 'truncated-gzip',
      message: `${p}: gzip data ends early (truncated at compressed byte ${fileOffset}, after ${bytes} bytes of log); the lines before that point are counted`,
    };
  }
  if (gzip && (e.code === 'Z_DATA_ERROR' || /incorrect header|invalid/i.test(e.message))) {
    return {
      path: p,
      kind: 'corrupt-gzip',
      message: `${p}: gzip data is corrupt near compressed byte ${fileOffset} (${e.message}); the ${bytes} bytes of log before it are counted`,
    };
  }
  return { path: p, kind: 'io', message: `${p}: read failed after ${bytes} bytes (${e.message})` };
}

/** Splits chunks into lines, carrying a partial last line over to the next chunk. */
export class LineSplitter {
  private carry: Buffer | null = null;
  private dropping = 0;

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
    const sink = this.sink;
    const len = chunk.length;
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) break;
      const end = nl > pos && chunk[nl - 1] === 13 ? nl - 1 : nl;
      if (end - pos > this.maxLine) sink.overlong(end - pos);
      else sink.line(chunk, pos, end);
      pos = nl + 1;
    }
    if (pos < len) this.accumulate(chunk.subarray(pos));
  }

  end(): void {
    if (this.carry !== null || this.dropping > 0) this.flushCarry();
  }

  private accumulate(part: Buffer): void {
    if (this.dropping > 0) {
      this.dropping += part.length;
      return;
    }
    const have = this.carry?.length ?? 0;
    if (have + part.length > this.maxLine) {
      this.dropping = have + part.length;
      this.carry = null;
      return;
    }
    // Copy: the chunk's memory is reused by the stream after this call.
    this.carry = this.carry === null ? Buffer.from(part) : Buffer.concat([this.carry, part]);
  }

  private flushCarry(): void {
    if (this.dropping > 0) {
      this.sink.overlong(this.dropping);
      this.dropping = 0;
      return;
    }
    const c = this.carry;
    this.carry = null;
    if (c === null) return;
    const end = c.length > 0 && c[c.length - 1] === 13 ? c.length - 1 : c.length;
    this.sink.line(c, 0, end);
  }
}
