// Log text is written by strangers: host names, HELO strings and error details can carry terminal escape
// sequences, HTML, spreadsheet formulas or bidi overrides (DESIGN.md §5). Every renderer passes each
// log-derived string through the function for its medium; none prints raw log text.

// C0 and C1 controls, DEL, the Unicode bidi marks and overrides that can reorder what a reader sees (U+061C,
// U+200E/F, U+202A–E, U+2066–9), and the invisible ones that make two names look alike or shift a table's columns:
// soft hyphen, zero-width space and joiners (U+200B–D), word joiner and invisible operators (U+2060–4), the byte
// order mark (U+FEFF), Mongolian vowel separator (U+180E), and the line and paragraph separators (U+2028/9).
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

function escapeCodePoint(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** For a terminal: control characters (ESC above all) become visible `\xNN` escapes. */
export function forTerminal(s: string): string {
  return s.replace(UNSAFE, escapeCodePoint);
}

/**
 * For a CSV cell (RFC 4180 quoting) that a spreadsheet will open: cells starting with = + - @ (or tab/CR)
 * are prefixed with `'` so they are not evaluated as formulas (OWASP "CSV injection").
 */
export function forCsv(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  let s = forTerminal(value);
  if (/^[=+\-@\t\r]/.test(value)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** For HTML text or a quoted attribute value. */
export function forHtml(s: string): string {
  return forTerminal(s).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

/** For a Markdown table cell: no pipes, no raw HTML, no code-span breakouts. */
export function forMarkdown(s: string): string {
  return forHtml(s).replace(/[|\\`*_[\]]/g, (c) => `\\${c}`);
}
