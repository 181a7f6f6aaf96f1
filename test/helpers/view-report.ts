// The report of a view built in a test from sessions (no log read: empty coverage, no sources), whole window.

import type { CensusView } from '../../src/aggregate/census-view.js';
import { buildReport, type ReportData } from '../../src/render/report-model.js';

type ReportOptions = Parameters<typeof buildReport>[3];

export function reportOfView(view: CensusView, options?: ReportOptions): ReportData {
  const diagnostics = {
    coverage: { lines: 0, events: 0, unrecognized: 0, malformed: 0, foreign: 0 },
    sources: [],
    issues: [],
    samples: [],
    claimedLines: 0,
    workers: 0,
    servicesSeen: [],
  };
  return buildReport(view, diagnostics, { sinceMs: null, untilMs: null }, options);
}
