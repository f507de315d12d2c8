// Writes the data files generated from src/patterns (run after `npm run build`):
// schemas/pattern-1.schema.json and spaces/{tile,span}.json. Tests compare
// the committed files with these objects.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SEARCH_SPACES, formatPatternSchema, formatSpace } from '../dist/src/patterns/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const write = (rel, text) => {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${rel}`);
};
write('schemas/pattern-1.schema.json', formatPatternSchema());
for (const [name, space] of Object.entries(SEARCH_SPACES)) write(`spaces/${name}.json`, formatSpace(space));
