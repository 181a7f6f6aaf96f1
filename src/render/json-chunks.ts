// `JSON.stringify(value, null, 2)` in pieces of about CHUNK characters, for `report --format json`.
//
// Why: at 1 GiB of log the report is 18 MB of JSON. Stringified whole, it was a second copy of the report
// on the heap, and writing it a third (as a Buffer): the census's peak memory came from its last line. In
// pieces, what is in memory at once is one piece. The output is byte for byte JSON.stringify's (a property
// test holds it to that): objects are walked here, and the elements of an array are stringified a batch at a
// time and re-indented, which is exact because JSON text has no raw line breaks inside strings.

const CHUNK = 64 * 1024;
/** Array elements stringified at once. */
const BATCH = 256;

/**
 * The text of `JSON.stringify(value, null, 2)`, in order, in pieces. `value` must be JSON (no cycles). `batch`:
 * array elements stringified at once (tests use small ones).
 */
export function* jsonChunks(value: unknown, batch = BATCH): Generator<string> {
  let buffer = '';
  for (const piece of pieces(value, '', batch)) {
    buffer += piece;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

function isWalkable(value: unknown): value is object {
  // toJSON (a Date, say) decides its own form: leave it to JSON.stringify.
  return typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

/** A value this walk leaves to JSON.stringify, as it would print it at `indent`; undefined when it prints nothing. */
function leaf(value: unknown, indent: string): string | undefined {
  // Only an object with toJSON (which may return an object) can span lines; strings never do.
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  return JSON.stringify(value, null, 2)?.replaceAll('\n', `\n${indent}`);
}

function* pieces(value: unknown, indent: string, batch: number): Generator<string> {
  if (!isWalkable(value)) {
    const text = leaf(value, indent);
    if (text !== undefined) yield text;
    return;
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) {
      yield '[]';
      return;
    }
    yield '[';
    // Elements a batch at a time (one JSON.stringify call per element took twice as long): the batch's text is
    // `[\n  a,\n  b\n]`, its elements already two spaces in; what is between the brackets, every line moved
    // `indent` further in, is this array's text for them.
    for (let i = 0; i < value.length; i += batch) {
      const text = JSON.stringify(value.slice(i, i + batch), null, 2);
      yield `${i === 0 ? '' : ','}\n${indent}${text.slice(2, -2).replaceAll('\n', `\n${indent}`)}`;
    }
    yield `\n${indent}]`;
    return;
  }
  let first = true;
  for (const key of Object.keys(value)) {
    const member = (value as Record<string, unknown>)[key];
    const prefix = `${first ? '{' : ','}\n${inner}${JSON.stringify(key)}: `;
    if (isWalkable(member)) {
      yield prefix;
      yield* pieces(member, inner, batch);
    } else {
      const text = leaf(member, inner);
      if (text === undefined) continue; // a member JSON has no text for is left out
      yield prefix + text;
    }
    first = false;
  }
  yield first ? '{}' : `\n${indent}}`;
}
