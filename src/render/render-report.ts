// Picks the renderer for --format. Every renderer draws the same ReportData, so formats cannot disagree.
// `prom` returns a promise (prom-client's Registry#metrics is asynchronous): callers await every result.
// `json` returns its text in pieces (see json-chunks.ts): write them as they come, or join them with
// `renderedText`.

import { renderCsv } from './csv.js';
import { renderHtml } from './html.js';
import { jsonChunks } from './json-chunks.js';
import { renderMarkdown } from './markdown.js';
import { renderProm } from './prom.js';
import type { ReportData } from './report-model.js';
import { renderTable } from './table.js';

export interface RenderOptions {
  color: boolean;
  top: number;
}

/** A rendered report: its text, or its text in pieces. */
export type Rendered = string | Iterable<string>;

export const REPORT_FORMATS: Record<string, (r: ReportData, o: RenderOptions) => Rendered | Promise<Rendered>> = {
  table: (r, o) => renderTable(r, o),
  json: function* (r) {
    yield* jsonChunks(r);
    yield '\n';
  },
  csv: (r) => renderCsv(r),
  md: (r, o) => renderMarkdown(r, o.top),
  html: (r, o) => renderHtml(r, { top: o.top }),
  prom: (r) => renderProm(r),
};

/** The whole text of a rendered report. */
export function renderedText(rendered: Rendered): string {
  return typeof rendered === 'string' ? rendered : [...rendered].join('');
}
