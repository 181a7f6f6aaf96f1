// `JSON.stringify(value, null, 2)` in pieces of about CHUNK characters, for `report --format json`.
//
// Why: at 1 GiB of log the report is 18 MB of JSON. Stringified whole, it was a second copy of the report
// on the heap, and writing it a third (as a Buffer): the census's peak memory came from its last line. In
// pieces, what is in memory at once is one piece. The output is byte for byte JSON.stringify's (a property
// test holds it to that): containers are walked here, and each element of an array is stringified whole and
// re-indented, which is exact because JSON text has no raw line breaks inside strings.

const CHUNK = 64 * 1024;

/** The text of `JSON.stringify(value, null, 2)`, in order, in pieces. `value` must be JSON (no cycles). */
export function* jsonChunks(value: unknown): Generator<string> {
  let buffer = '';
  for (const piece of pieces(value, '')) {
    buffer += piece;
    if (buffer.length >= CHUNK) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}

/** An element of an array or the value of a member, as JSON.stringify would indent it at `indent`. */
function nested(value: unknown, indent: string): string | undefined {
  const text = JSON.stringify(value, null, 2);
  return text === undefined ? undefined : text.replaceAll('\n', `\n${indent}`);
}

function isWalkable(value: unknown): value is object {
  // toJSON (a Date, say) decides its own form: leave it to JSON.stringify.
  return typeof value === 'object' && value !== null && typeof (value as { toJSON?: unknown }).toJSON !== 'function';
}

function* pieces(value: unknown, indent: string): Generator<string> {
  if (!isWalkable(value)) {
    const text = JSON.stringify(value);
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
    for (let i = 0; i < value.length; i++) {
      // An element JSON has no text for (undefined, a function) is null in an array.
      yield `${i === 0 ? '' : ','}\n${inner}${nested(value[i], inner) ?? 'null'}`;
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
      yield* pieces(member, inner);
    } else {
      const text = JSON.stringify(member);
      if (text === undefined) continue; // a member JSON has no text for is left out
      yield prefix + text;
    }
    first = false;
  }
  yield first ? '{}' : `\n${indent}}`;
}
