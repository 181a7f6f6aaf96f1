// The library entry point: census(inputs, options) → { view, diagnostics } (DESIGN.md §2).

import type { CensusView } from '../aggregate/census-view.js';
import type { Dialect } from '../dialects/dialect.js';
import { DIALECTS } from '../dialects/registry.js';
import { parseZone } from '../envelope/clock.js';
import { CensusError } from '../model/errors.js';
import type { Coverage } from '../model/types.js';
import { readLines, type SourceIssue } from '../sources/read-lines.js';
import type { InputSpec } from '../sources/resolve-inputs.js';
import { CensusEngine, nothingClaimedError, type UnparsedSample } from './engine.js';
import { compileFilter, type SessionFilter } from './session-filter.js';

export interface CensusOptions {
  filter?: SessionFilter;
  /** Dialect ids to use; empty or ['auto'] = all. */
  mta?: readonly string[];
  year?: number | null;
  timezone?: string;
  maxSamples?: number;
  /** Reports bytes consumed per input (for progress display). */
  onProgress?: (input: InputSpec, fileBytes: number) => void;
}

export interface SourceSummary {
  path: string;
  bytes: number;
  issue: SourceIssue | null;
}

export interface Diagnostics {
  coverage: Coverage;
  sources: SourceSummary[];
  issues: SourceIssue[];
  samples: UnparsedSample[];
  /** Lines written by programs a dialect claims (events + unrecognized + malformed among them). */
  claimedLines: number;
}

export interface CensusResult {
  view: CensusView;
  diagnostics: Diagnostics;
}

export function selectDialects(ids: readonly string[] | undefined): Dialect[] {
  if (!ids || ids.length === 0 || (ids.length === 1 && ids[0] === 'auto')) return [...DIALECTS];
  return ids.map((id) => {
    const d = DIALECTS.find((x) => x.id === id);
    if (!d) {
      throw new CensusError('unknown-mta', `unknown MTA: ${id}`, {
        hint: `use auto or one of: ${DIALECTS.map((x) => x.id).join(', ')}`,
      });
    }
    return d;
  });
}

export async function census(inputs: readonly InputSpec[], options: CensusOptions = {}): Promise<CensusResult> {
  const dialects = selectDialects(options.mta);
  const engine = new CensusEngine({
    dialects,
    zone: parseZone(options.timezone),
    year: options.year ?? null,
    filter: compileFilter(options.filter ?? {}),
    giveUpAfterLines: 50_000,
    ...(options.maxSamples !== undefined ? { maxSamples: options.maxSamples } : {}),
  });
  const sources: SourceSummary[] = [];
  for (const input of inputs) {
    engine.beginSource(input.path === '-' ? '(stdin)' : input.path, input.mtimeMs);
    const progress = options.onProgress;
    const result = await readLines(
      input,
      { line: (buf, s, e) => engine.line(buf, s, e), overlong: (n) => engine.overlong(n) },
      progress ? { progress: (bytes) => progress(input, bytes) } : {},
    );
    sources.push({ path: result.path, bytes: result.bytes, issue: result.issue });
  }
  const done = engine.finish();
  if (done.coverage.lines > 0 && done.claimedLines === 0) {
    throw nothingClaimedError(done.coverage.lines, engine.foreignPrograms, dialects);
  }
  return {
    view: done.view,
    diagnostics: {
      coverage: done.coverage,
      sources,
      issues: sources.flatMap((s) => (s.issue ? [s.issue] : [])),
      samples: done.samples,
      claimedLines: done.claimedLines,
    },
  };
}
