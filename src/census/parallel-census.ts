// The census on several cores, with the same result as one pass. The main thread reads (and, for .gz, inflates
// through node:zlib, off the JS thread) and cuts the bytes into chunks of whole lines; worker threads run the
// per-line half of the engine over them (classify, parse, interpret: most of the work) and send back counts and
// encoded observations; the main thread then feeds those to its one correlator strictly in chunk order.
// Sessions, their TTL, the order they close in, dialects that keep state (their lines come back uninterpreted)
// and line numbers are therefore exactly those of the sequential engine: no seam needs stitching.
//
// The first bytes are counted on the main thread (small inputs never start a worker), and so is everything up
// to the first line a dialect claims, so that "nothing recognised in the first 50,000 lines" still stops early
// and names the same programs.

import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseZone } from '../envelope/clock.js';
import type { Envelope, Observation } from '../model/types.js';
import {
  describeReadError,
  isGzipInput,
  namingFile,
  openInput,
  pathToOpen,
  type ReadResult,
  type SourceIssue,
} from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';
import { selectDialects } from './census.js';
import type { CensusEngine } from './engine.js';
import { type ChunkCounts, LineEngine } from './line-engine.js';
import { type DecodedHandler, type EncodedBatch, ObservationDecoder } from './observation-codec.js';

export interface WorkerInit {
  mta: readonly string[] | undefined;
  timezone: string | undefined;
  maxSamples: number;
  maxLineBytes: number;
}

export interface ChunkJob {
  seq: number;
  source: string;
  mtimeMs: number | null;
  buffer: ArrayBuffer;
  /** Bytes in the chunk; lines end at `linesEnd` (after a `\n`), the rest is the input's last line. */
  length: number;
  linesEnd: number;
}

export interface ChunkReply {
  seq: number;
  counts: ChunkCounts;
  batch: EncodedBatch;
  buffer: ArrayBuffer;
}

export interface ParallelOptions {
  /** Worker threads to start (at least 1). */
  workers: number;
  /** New bytes per chunk sent to a worker. */
  chunkBytes: number;
  /** Bytes counted on the main thread before workers are started. */
  startAfterBytes: number;
  /**
   * Whether this thread counts a chunk itself when every worker is full: `auto` when it has waited for them at
   * least as long as the last such chunk took (so that it only uses time it would idle), `always` (tests).
   */
  countAhead: 'auto' | 'always' | 'never';
  maxLineBytes: number;
  init: WorkerInit;
}

/** Chunks a worker may hold at once (one being counted, one waiting). */
const MAX_INFLIGHT = 2;
/** Chunk size while counting on the main thread: small, so that workers take over soon. */
const LOCAL_CHUNK = 256 * 1024;
const READ_BYTES = 1 << 20;

interface WorkerSlot {
  worker: Worker;
  inflight: number;
  decoder: ObservationDecoder;
  /** Settles when the worker has exited (after `close`, or on its own failure). */
  exited: Promise<void>;
}

/** What `close` posts: the worker closes its port and ends by itself (census-worker.ts). */
export interface ChunkClose {
  close: true;
}

/** How long `close` waits for a worker to end by itself before terminating it (a worker that never answers). */
const CLOSE_WAIT_MS = 10_000;

/** A line a dialect with state must interpret on the main thread (from a chunk counted ahead here). */
class DeferredLine {
  constructor(
    readonly dialect: number,
    readonly env: Envelope,
    readonly text: string,
    readonly lineNo: number,
  ) {}
}

type Unit =
  | { kind: 'reply'; reply: ChunkReply; slot: WorkerSlot; fileBytes: number }
  | { kind: 'ahead'; counts: ChunkCounts; items: (Observation | DeferredLine)[]; fileBytes: number }
  | { kind: 'overlong'; bytes: number; fileBytes: number };

export class ParallelCensus {
  private slots: WorkerSlot[] | null = null;
  private readonly pool: ArrayBuffer[] = [];
  private readonly ready = new Map<number, Unit>();
  private readonly fileBytesOf = new Map<number, number>();
  private nextSeq = 0;
  private seq = 0;
  private failure: { error: unknown } | null = null;
  private waiter: (() => void) | null = null;
  private localBytes = 0;
  private turn = 0;
  private readonly blockBytes: number;
  private readonly handler: DecodedHandler;
  /** The main thread's own worker, for chunks it counts ahead while the workers are busy (see `dispatch`). */
  private helper: LineEngine | null = null;
  private helperSource: string | null = null;
  private helperItems: (Observation | DeferredLine)[] = [];
  private aheadPending = false;
  /** Time this thread spent waiting for workers, less the time it spent counting ahead (ms). */
  private idleCredit = 0;
  private aheadCost = 0;
  // The input being read.
  private source = '';
  private mtimeMs: number | null = null;
  private progress: ((fileBytes: number) => void) | undefined;
  private block: Buffer;
  private filled = 0;
  private carried = 0;
  private dropping = 0;
  private droppedLast = 0;

  constructor(
    private readonly engine: CensusEngine,
    private readonly options: ParallelOptions,
  ) {
    this.blockBytes = options.chunkBytes + options.maxLineBytes + 1;
    this.block = Buffer.from(this.newBuffer());
    this.handler = {
      observe: (o: Observation) => engine.observe(o),
      defer: (dialect: number, env: Envelope, text: string, lineNo: number) =>
        engine.interpretDeferred(dialect, env, text, lineNo),
    };
  }

  /** Worker threads started so far (for diagnostics and tests). */
  workers = 0;

  /**
   * Reads one input to its end (or its `endAt`); the engine has had `beginSource` for it. `startAt`: a plain file from this line
   * start on (a range census reading on from its seam; by default the input's own `startAt`); the bytes before it
   * count in issue messages, not in the result's `bytes`.
   */
  async read(
    input: InputSpec,
    progress?: (fileBytes: number) => void,
    startAt = input.startAt?.byte ?? 0,
  ): Promise<ReadResult> {
    this.source = input.path === '-' ? '(stdin)' : input.path;
    this.mtimeMs = input.mtimeMs;
    this.progress = progress;
    this.filled = 0;
    this.carried = 0;
    this.dropping = 0;
    if (input.path !== '-' && !isGzipInput(input)) return this.readFile(input, startAt);
    const { raw, stream, gzip } = openInput(input, READ_BYTES);
    const fileBytes = () => (raw as fs.ReadStream).bytesRead ?? bytes;
    let bytes = 0;
    let issue: SourceIssue | null = null;
    // Errors of the census itself are not read errors: they propagate unchanged.
    let censusError: { error: unknown } | null = null;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        try {
          await this.push(chunk, fileBytes());
        } catch (e) {
          censusError = { error: e };
          break;
        }
      }
    } catch (e) {
      issue = describeReadError(input.path, namingFile(input, e), gzip, raw, bytes);
    } finally {
      if (gzip || censusError !== null) raw.destroy();
    }
    if (censusError !== null) throw censusError.error;
    if (this.dropping > 0) {
      const n = this.droppedLast === 13 ? this.dropping - 1 : this.dropping;
      this.dropping = 0;
      await this.overlong(n, fileBytes());
    }
    await this.cut(true, fileBytes());
    await this.drain();
    return { path: input.path, bytes, issue };
  }

  /** A plain file: read straight into the chunk being filled (no copy). Same lines and issues as the stream. */
  private async readFile(input: InputSpec, startAt: number): Promise<ReadResult> {
    let bytes = 0;
    let issue: SourceIssue | null = null;
    let handle: fs.promises.FileHandle | null = null;
    try {
      handle = await fs.promises.open(pathToOpen(input), 'r');
      for (;;) {
        // (A file read up to its `endAt`, window-seek.ts, stops there.)
        const left = input.endAt === undefined ? Number.POSITIVE_INFINITY : input.endAt - (startAt + bytes);
        if (left <= 0) break;
        const room = Math.min(this.limit() - (this.filled - this.carried), this.block.length - this.filled, left);
        let n: number;
        try {
          n = (await handle.read(this.block, this.filled, room, startAt + bytes)).bytesRead;
        } catch (e) {
          issue = {
            path: input.path,
            kind: 'io',
            message: `${input.path}: read failed after ${startAt + bytes} bytes (${namingFile(input, e).message})`,
          };
          break;
        }
        if (n === 0) break;
        bytes += n;
        await this.afterRead(n, bytes);
      }
    } catch (e) {
      if (handle === null) {
        issue = {
          path: input.path,
          kind: 'io',
          message: `${input.path}: read failed after ${startAt} bytes (${namingFile(input, e).message})`,
        };
      } else throw e;
    } finally {
      await handle?.close();
    }
    if (this.dropping > 0) {
      const n = this.droppedLast === 13 ? this.dropping - 1 : this.dropping;
      this.dropping = 0;
      await this.overlong(n, bytes);
    }
    await this.cut(true, bytes);
    await this.drain();
    return { path: input.path, bytes, issue };
  }

  /** `n` bytes were read into the block at `filled`. */
  private async afterRead(n: number, fileBytes: number): Promise<void> {
    const block = this.block;
    let end = this.filled + n;
    if (this.dropping > 0) {
      // Inside a line too long to be a log line (the block holds nothing else): skip to its end, count it once.
      const start = this.filled;
      const nl = block.indexOf(10, start);
      if (nl < 0 || nl >= end) {
        this.dropping += n;
        this.droppedLast = block[end - 1]!;
        return;
      }
      this.dropping += nl - start;
      if (nl > start) this.droppedLast = block[nl - 1]!;
      const bytes = this.droppedLast === 13 ? this.dropping - 1 : this.dropping;
      this.dropping = 0;
      await this.overlong(bytes, fileBytes);
      this.block.copyWithin(0, nl + 1, end);
      end -= nl + 1;
      this.filled = 0;
      this.carried = 0;
    }
    this.filled = end;
    if (this.filled - this.carried >= this.limit()) await this.cut(false, fileBytes);
  }

  /**
   * Ends the workers: each is told to close its port, ends once its last chunk is done, and is waited for. Not
   * `terminate()`: Node 20 aborted the whole process when a worker was torn down while V8 still compiled its code
   * on another thread (range-census.ts `RangeWorker.end`); only one that has not ended after CLOSE_WAIT_MS is.
   */
  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = null;
    if (slots === null) return;
    await Promise.all(
      slots.map(async (s) => {
        s.worker.postMessage({ close: true } satisfies ChunkClose);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS);
        });
        if ((await Promise.race([s.exited, late])) === 'late') await s.worker.terminate();
        clearTimeout(timer);
      }),
    );
  }

  private async push(chunk: Buffer, fileBytes: number): Promise<void> {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (this.dropping > 0) {
        // Inside a line too long to be a log line: skip to its end, then count it once.
        const nl = chunk.indexOf(10, off);
        if (nl < 0) {
          this.dropping += len - off;
          this.droppedLast = chunk[len - 1]!;
          return;
        }
        this.dropping += nl - off;
        if (nl > off) this.droppedLast = chunk[nl - 1]!;
        const n = this.droppedLast === 13 ? this.dropping - 1 : this.dropping;
        this.dropping = 0;
        await this.overlong(n, fileBytes);
        off = nl + 1;
        continue;
      }
      const limit = this.limit();
      const take = Math.min(limit - (this.filled - this.carried), len - off);
      chunk.copy(this.block, this.filled, off, off + take);
      this.filled += take;
      off += take;
      if (this.filled - this.carried >= limit) await this.cut(false, fileBytes);
    }
  }

  private limit(): number {
    return this.slots === null ? Math.min(LOCAL_CHUNK, this.options.chunkBytes) : this.options.chunkBytes;
  }

  /** Sends (or counts) the whole lines of the block, keeping a partial last line for the next one. */
  private async cut(eof: boolean, fileBytes: number): Promise<void> {
    const buf = this.block;
    const filled = this.filled;
    if (filled === 0) return;
    const linesEnd = buf.lastIndexOf(10, filled - 1) + 1;
    let tail = filled - linesEnd;
    if (!eof && tail > this.options.maxLineBytes + 1) {
      // The partial line is already too long to be a log line (a `\r` before its `\n` would not count).
      this.dropping = tail;
      this.droppedLast = buf[filled - 1]!;
      tail = 0;
    }
    const length = eof ? filled : linesEnd;
    if (!eof && tail > 0 && length === 0) {
      // No whole line yet (chunks smaller than a line): keep filling this block, which has room for the line.
      this.carried = filled;
      return;
    }
    this.filled = eof ? 0 : tail;
    this.carried = this.filled;
    if (length === 0) return;
    if (this.shouldStart()) this.start();
    if (this.slots === null) {
      this.countHere(buf, length, linesEnd, fileBytes);
      if (!eof && tail > 0) buf.copy(buf, 0, linesEnd, filled);
      return;
    }
    const next = Buffer.from(this.newBuffer());
    if (!eof && tail > 0) buf.copy(next, 0, linesEnd, filled);
    this.block = next;
    await this.dispatch(buf, length, linesEnd, fileBytes);
  }

  private shouldStart(): boolean {
    return this.slots === null && this.localBytes >= this.options.startAfterBytes && this.engine.claimedLines > 0;
  }

  /** On the main thread, straight into its engine (nothing is in flight then). */
  private countHere(buf: Buffer, length: number, linesEnd: number, fileBytes: number): void {
    this.localBytes += length;
    countChunk(this.engine, buf, length, linesEnd, this.options.maxLineBytes);
    this.progress?.(fileBytes);
  }

  private async overlong(bytes: number, fileBytes: number): Promise<void> {
    if (this.slots === null) {
      this.engine.overlong(bytes);
      return;
    }
    this.ready.set(this.seq++, { kind: 'overlong', bytes, fileBytes });
    this.absorbReady();
    this.check();
  }

  private async dispatch(buf: Buffer, length: number, linesEnd: number, fileBytes: number): Promise<void> {
    let slot = this.freeSlot();
    if (slot === null && !this.aheadPending && this.mayCountAhead()) {
      // Every worker has its fill: rather than wait, count this chunk here (on a core that would idle), to be
      // absorbed when its turn comes.
      this.countAhead(buf, length, linesEnd, fileBytes);
      return;
    }
    while (slot === null) {
      await this.wait();
      slot = this.freeSlot();
    }
    const seq = this.seq++;
    this.fileBytesOf.set(seq, fileBytes);
    const job: ChunkJob = {
      seq,
      source: this.source,
      mtimeMs: this.mtimeMs,
      buffer: buf.buffer as ArrayBuffer,
      length,
      linesEnd,
    };
    slot.inflight++;
    slot.worker.postMessage(job, [job.buffer]);
  }

  private mayCountAhead(): boolean {
    const mode = this.options.countAhead;
    return mode === 'always' || (mode === 'auto' && this.idleCredit > this.aheadCost);
  }

  private countAhead(buf: Buffer, length: number, linesEnd: number, fileBytes: number): void {
    if (this.helper === null) {
      const init = this.options.init;
      this.helper = new LineEngine(
        {
          dialects: selectDialects(init.mta),
          zone: parseZone(init.timezone),
          year: null,
          maxSamples: init.maxSamples,
          giveUpAfterLines: 0,
          maxLineBytes: init.maxLineBytes,
        },
        {
          observe: (o) => this.helperItems.push(o),
          defer: (dialect, env, text, lineNo) => this.helperItems.push(new DeferredLine(dialect, env, text, lineNo)),
        },
      );
    }
    const helper = this.helper;
    const source = `${this.source}\0${this.mtimeMs}`;
    if (source !== this.helperSource) {
      this.helperSource = source;
      helper.beginSource(this.source, this.mtimeMs);
    }
    helper.beginChunk();
    this.helperItems = [];
    const started = performance.now();
    countChunk(helper, buf, length, linesEnd, this.options.maxLineBytes);
    // Only time that would have been idle is spent on this: the next chunk waits for as much idle time.
    this.aheadCost = performance.now() - started;
    this.idleCredit -= this.aheadCost;
    const seq = this.seq++;
    this.ready.set(seq, { kind: 'ahead', counts: helper.chunkCounts(), items: this.helperItems, fileBytes });
    this.helperItems = [];
    this.aheadPending = true;
    if (this.pool.length < 2) this.pool.push(buf.buffer as ArrayBuffer);
    this.absorbReady();
  }

  private freeSlot(): WorkerSlot | null {
    this.check();
    const slots = this.slots!;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[(this.turn + i) % slots.length]!;
      if (s.inflight < MAX_INFLIGHT) {
        this.turn = (this.turn + i + 1) % slots.length;
        return s;
      }
    }
    return null;
  }

  private async drain(): Promise<void> {
    while (this.nextSeq < this.seq) {
      this.check();
      await this.wait();
    }
    this.check();
  }

  private wait(): Promise<void> {
    const since = performance.now();
    return new Promise((resolve) => {
      this.waiter = () => {
        this.idleCredit += performance.now() - since;
        resolve();
      };
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private check(): void {
    if (this.failure !== null) throw this.failure.error;
  }

  private start(): void {
    const slots: WorkerSlot[] = [];
    for (let i = 0; i < this.options.workers; i++) {
      const worker = new Worker(new URL('./census-worker.js', import.meta.url), { workerData: this.options.init });
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      const slot: WorkerSlot = { worker, inflight: 0, decoder: new ObservationDecoder(), exited };
      worker.on('message', (reply: ChunkReply) => this.onReply(slot, reply));
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (this.slots !== null) this.fail(new Error(`census worker stopped (exit code ${code})`));
      });
      slots.push(slot);
    }
    this.slots = slots;
    this.workers = slots.length;
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  private onReply(slot: WorkerSlot, reply: ChunkReply): void {
    slot.inflight--;
    if (this.pool.length < 2) this.pool.push(reply.buffer);
    const fileBytes = this.fileBytesOf.get(reply.seq) ?? 0;
    this.fileBytesOf.delete(reply.seq);
    this.ready.set(reply.seq, { kind: 'reply', reply, slot, fileBytes });
    try {
      this.absorbReady();
    } catch (e) {
      this.fail(e);
    }
    this.wake();
  }

  /** Everything that has come back, in chunk order, into the engine. */
  private absorbReady(): void {
    for (;;) {
      const unit = this.ready.get(this.nextSeq);
      if (unit === undefined) return;
      this.ready.delete(this.nextSeq);
      this.nextSeq++;
      if (unit.kind === 'overlong') this.engine.overlong(unit.bytes);
      else if (unit.kind === 'ahead') {
        this.aheadPending = false;
        const engine = this.engine;
        engine.absorbChunk(unit.counts, () => {
          for (const item of unit.items) {
            if (item instanceof DeferredLine) engine.interpretDeferred(item.dialect, item.env, item.text, item.lineNo);
            else engine.observe(item);
          }
        });
      } else {
        const { reply, slot } = unit;
        this.engine.absorbChunk(reply.counts, () => slot.decoder.decode(reply.batch, this.handler));
      }
      this.progress?.(unit.fileBytes);
    }
  }

  private newBuffer(): ArrayBuffer {
    const b = this.pool.pop();
    return b !== undefined && b.byteLength === this.blockBytes ? b : new ArrayBuffer(this.blockBytes);
  }
}

/** The chunk's lines into `engine`: the run of whole lines, then the input's last line if it has no newline. */
export function countChunk(engine: LineEngine, buf: Buffer, length: number, linesEnd: number, maxLine: number): void {
  if (linesEnd > 0) engine.lines(buf, 0, linesEnd);
  if (length > linesEnd) {
    const end = buf[length - 1] === 13 ? length - 1 : length;
    if (end - linesEnd > maxLine) engine.overlong(end - linesEnd);
    else engine.line(buf, linesEnd, end);
  }
}
