import { z } from 'zod';
import { eventSchemas } from './events.ts';

/** A generated JSON Schema file: its name under `schemas/` and its exact contents. */
export interface JsonSchemaFile {
  readonly fileName: string;
  readonly text: string;
}

/** Sorted keys make the files independent of how zod happens to order its output, so diffs show real change. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([key, inner]) => [key, sortKeys(inner)]));
}

/**
 * One JSON Schema per event type and version, for publishers outside this codebase. `io: 'input'` describes
 * what may be sent, so fields with defaults are optional. Written by `npm run schemas`; a unit test fails when
 * the committed files drift from the zod schemas.
 */
export function jsonSchemaFiles(): JsonSchemaFile[] {
  const files: JsonSchemaFile[] = [];
  for (const [type, versions] of Object.entries(eventSchemas)) {
    for (const [version, schema] of Object.entries(versions)) {
      const jsonSchema = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' });
      files.push({
        fileName: `${type}.v${version}.json`,
        text: `${JSON.stringify(sortKeys(jsonSchema), null, 2)}\n`,
      });
    }
  }
  return files;
}
