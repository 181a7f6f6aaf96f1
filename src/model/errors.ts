// One error type for everything a user can cause or fix (DESIGN.md §5). The CLI prints
// `error: <message>` and `hint: <hint>` and exits with `exitCode`; it never prints a stack for these.

export const EXIT = {
  ok: 0,
  /** An unexpected internal error (a bug): the only case that prints a stack trace. */
  internal: 1,
  /** Bad flags or arguments, unreadable config. */
  usage: 2,
  /** The report was printed, but some input could not be read completely (truncated .gz, I/O error). */
  incomplete: 3,
  /** Nothing to read: no log found, or no line any dialect claims. */
  noInput: 4,
  /** `audit` found at least one error-severity finding. */
  findings: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CensusError extends Error {
  readonly code: string;
  readonly hint: string | null;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, options: { hint?: string; exitCode?: ExitCode } = {}) {
    super(message);
    this.name = 'CensusError';
    this.code = code;
    this.hint = options.hint ?? null;
    this.exitCode = options.exitCode ?? EXIT.usage;
  }
}
