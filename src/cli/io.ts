// The CLI's only contact with the process: stdout, stderr, the exit code, progress on a TTY.

import type { CensusOptions } from '../census/census.js';
import { EXIT, type ExitCode } from '../model/errors.js';
import { forTerminal } from '../render/sanitize.js';
import type { InputSpec } from '../sources/resolve-inputs.js';

export interface Io {
  out(text: string): void;
  /**
   * Writes the pieces one after another, each when stdout has taken the one before: a pipe to a slower reader
   * (`| gzip`, a pager) would otherwise hold the whole output in memory (1 GiB for a 122 MB what-if JSON).
   */
  outAll(pieces: Iterable<string>): Promise<void>;
  err(line: string): void;
  setExit(code: ExitCode): void;
  /** Clear a progress line, if one was drawn. */
  endProgress(): void;
  /** Progress callbacks for census(), or nothing when stderr is not a TTY or --quiet. */
  progressFor(inputs: readonly InputSpec[], quiet: boolean): Pick<CensusOptions, 'onProgress'>;
}

/** The two streams the CLI writes to (the process's own; a test gives its own, with or without `isTTY`). */
export interface IoStreams {
  stdout: {
    write(text: string): unknown;
    on?(event: 'error' | 'close', listener: (e: NodeJS.ErrnoException) => void): unknown;
    once?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
    removeListener?(event: 'drain' | 'close' | 'error', listener: () => void): unknown;
  };
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

/** Resolves when the stream has taken what it holds, or has failed or closed (the error handler says which). */
function drained(stdout: Required<Pick<IoStreams['stdout'], 'once' | 'removeListener'>>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of ['drain', 'close', 'error'] as const) stdout.removeListener(event, done);
      resolve();
    };
    for (const event of ['drain', 'close', 'error'] as const) stdout.once(event, done);
  });
}

export function processIo(streams: IoStreams = process): Io & { exitCode: ExitCode; stdoutClosed: boolean } {
  const { stdout, stderr } = streams;
  const io = {
    exitCode: 0 as ExitCode,
    /** The reader of stdout has gone (EPIPE: `tlscensus … | head`): the rest of the output goes nowhere. */
    stdoutClosed: false,
    // Every write clears the progress line first: stdout and stderr share one terminal, and a command that
    // forgot to end its progress put its first line after the progress text (review: report's title).
    out(text: string) {
      io.endProgress();
      if (!io.stdoutClosed) stdout.write(text);
    },
    async outAll(pieces: Iterable<string>) {
      for (const piece of pieces) {
        io.endProgress();
        // (The reader has gone: the rest would go nowhere, so it is not even made.)
        if (io.stdoutClosed) return;
        if (stdout.write(piece) === false && stdout.once && stdout.removeListener) {
          await drained({ once: stdout.once.bind(stdout), removeListener: stdout.removeListener.bind(stdout) });
          if (io.stdoutClosed) return;
        }
      }
    },
    err(line: string) {
      io.endProgress();
      stderr.write(`${line}\n`);
    },
    setExit(code: ExitCode) {
      io.exitCode = code;
    },
    drawn: false,
    endProgress() {
      if (io.drawn) stderr.write('\r\x1b[K');
      io.drawn = false;
    },
    progressFor(inputs: readonly InputSpec[], quiet: boolean): Pick<CensusOptions, 'onProgress'> {
      if (quiet || !stderr.isTTY) return {};
      const total = inputs.reduce((n, i) => n + (i.sizeBytes ?? 0), 0);
      const started = Date.now();
      let done = 0;
      let current: InputSpec | null = null;
      let currentBytes = 0;
      let lastDraw = 0;
      return {
        onProgress(input, bytes) {
          if (input !== current) {
            done += currentBytes;
            current = input;
          }
          currentBytes = bytes;
          const now = Date.now();
          if (now - lastDraw < 250) return;
          lastDraw = now;
          const read = done + currentBytes;
          const secs = (now - started) / 1000;
          const rate = secs > 0 ? read / secs : 0;
          const eta = rate > 0 && total > read ? ` · ETA ${Math.ceil((total - read) / rate)} s` : '';
          const pctText = total > 0 ? ` (${((read / total) * 100).toFixed(0)}%)` : '';
          io.drawn = true;
          stderr.write(`\r\x1b[K${(read / 1e6).toFixed(0)} MB${pctText} · ${(rate / 1e6).toFixed(0)} MB/s${eta}`);
        },
      };
    },
  };
  // A reader that stops early (`| head`, a pager quit) is no error worth a stack trace, nor a reason to end the run
  // with another exit code: exiting 0 here hid exit codes 3 and 5 from scripts under `set -o pipefail` (review).
  // The run goes on without its output and exits as it would have.
  // Any other failure to write it (a full disk, an I/O error) leaves no complete output: said in one line, exit 3,
  // at once, since what is left cannot be written either (a review: ENOSPC gave a stack trace and exit 1).
  // A stream that closes without an error (destroyed) takes no more either; outAll must not wait on it (a review).
  stdout.on?.('close', () => {
    io.stdoutClosed = true;
  });
  stdout.on?.('error', (e) => {
    io.stdoutClosed = true;
    if (e.code === 'EPIPE') return;
    io.endProgress();
    stderr.write(`error: the output could not be written (${forTerminal(e.message)})\n`);
    stderr.write('hint: check the free space and the file or device the output goes to\n');
    process.exit(EXIT.incomplete);
  });
  return io;
}
