/** Writes schemas/<type>.v<version>.json from the zod event schemas: `npm run schemas`. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemaFiles } from '../src/contract/jsonSchemas.ts';

const directory = join(import.meta.dirname, '..', 'schemas');
mkdirSync(directory, { recursive: true });
for (const { fileName, text } of jsonSchemaFiles()) {
  writeFileSync(join(directory, fileName), text);
  console.log(`wrote schemas/${fileName}`);
}
