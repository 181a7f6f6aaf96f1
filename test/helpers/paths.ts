// Tests run from dist/test/…; fixtures stay in the source tree.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (tests are compiled to dist/test, two levels below it... plus the helpers folder). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function fixturePath(...parts: string[]): string {
  return path.join(ROOT, 'test', 'fixtures', ...parts);
}
