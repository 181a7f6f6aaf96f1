// What a dialect is (DESIGN.md §4): one file per MTA that claims program names, says cheaply which
// lines may matter, and interprets an Envelope into Observations. `interpret` never throws.

import type { Envelope, Observation } from '../model/types.js';

/** `interpret` result for a line that looked relevant but did not parse. */
export const MALFORMED = 'malformed' as const;

/**
 * Interprets one line. Returns observations (the line is an `event`), an empty array or null (claimed
 * but not TLS-relevant: `unrecognized`), or MALFORMED. May keep state across the lines of one input.
 */
export type Interpreter = (env: Envelope) => Observation[] | null | typeof MALFORMED;

export interface Dialect {
  /** The id used everywhere: file name, fixture name, `--mta` value, JSON `mta` field, metric label. */
  readonly id: string;
  /** Human name for reports. */
  readonly name: string;
  /** Does this dialect own lines written by this program tag (e.g. `postfix/submission/smtpd`)? */
  claims(program: string): boolean;
  /**
   * ASCII substrings of which at least one occurs in every line `interpret` can turn into an event.
   * Lines with none are `unrecognized` without being decoded (the hot-path prefilter, DESIGN.md §3).
   */
  readonly keywords: readonly string[];
  /**
   * Optional, for speed: the keywords that matter for lines of one program (a daemon that never logs anything
   * `interpret` uses gets none, and its lines are `unrecognized` at once). Same promise as `keywords`.
   */
  keywordsFor?(program: string): readonly string[];
  /**
   * Optional, for speed: a byte test of a message (buf[start, end)) of this program that is true only when the
   * message holds one of its keywords, so that the common lines skip the keyword search. Null: none.
   */
  acceptsFor?(program: string): ((buf: Buffer, start: number, end: number) => boolean) | null;
  /**
   * True when the interpreter keeps no state from line to line, so that any line can be interpreted without the
   * lines before it: worker threads then interpret byte ranges of a file. Otherwise the dialect's lines are
   * interpreted on the main thread, in order.
   */
  readonly stateless?: boolean;
  /** A fresh interpreter (state, if any, is per input). */
  createInterpreter(): Interpreter;
}
