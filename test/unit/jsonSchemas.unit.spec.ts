import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonSchemaFiles } from '../../src/contract/jsonSchemas.ts';
import { SNOWFLAKE_PATTERN } from '../../src/contract/snowflake.ts';

const directory = new URL('../../schemas/', import.meta.url);
const files = jsonSchemaFiles();
const FIX = 'the zod schemas in src/contract/events.ts changed: run `npm run schemas` and commit schemas/';

interface ObjectSchema {
  title: string;
  required: string[];
  properties: Record<
    string,
    { pattern?: string; description?: string; default?: unknown; maxItems?: number }
  >;
}
const generated = (fileName: string): ObjectSchema => {
  const file = files.find((candidate) => candidate.fileName === fileName);
  if (file === undefined) throw new Error(`no generated ${fileName}`);
  return JSON.parse(file.text) as ObjectSchema;
};

describe('schemas/*.json', () => {
  it('has one file per event type and version', () => {
    expect(files.map(({ fileName }) => fileName)).toEqual([
      'message_sent.v1.json',
      'message_deleted.v1.json',
      'message_edited.v1.json',
      'message_acked.v1.json',
      'member_joined.v1.json',
      'member_left.v1.json',
    ]);
    const committed = readdirSync(directory).filter((name) => name.endsWith('.json'));
    expect(committed.sort(), FIX).toEqual(files.map(({ fileName }) => fileName).sort());
  });

  it.each(files)('$fileName matches the zod schema', ({ fileName, text }) => {
    const path = new URL(fileName, directory);
    expect(existsSync(path), `schemas/${fileName} is missing: ${FIX}`).toBe(true);
    expect(readFileSync(path, 'utf8'), `schemas/${fileName} is out of date: ${FIX}`).toBe(text);
  });

  it('carries the snowflake pattern and states the 64-bit maximum', () => {
    const acked = generated('message_acked.v1.json');
    for (const field of ['channel_id', 'user_id', 'message_id']) {
      expect(acked.properties[field]?.pattern).toBe('^(0|[1-9][0-9]{0,19})$');
      expect(acked.properties[field]?.description).toContain('18446744073709551615');
    }
    expect(SNOWFLAKE_PATTERN.source).toBe('^(0|[1-9][0-9]{0,19})$');
  });

  it('describes what a publisher may send: fields with defaults are optional', () => {
    const sent = generated('message_sent.v1.json');
    expect(sent.required).toEqual(['type', 'v', 'channel_id', 'message_id', 'author_id', 'sent_at']);
    expect(sent.properties.mention_user_ids).toMatchObject({ default: [], maxItems: 1000 });
    const acked = generated('message_acked.v1.json');
    expect(acked.required).not.toContain('manual');
    expect(acked.properties.manual).toMatchObject({ default: false });
  });

  it('is pretty-printed with sorted keys and a trailing newline', () => {
    for (const { text } of files) {
      expect(text.endsWith('}\n')).toBe(true);
      expect(text).toMatch(/^\{\n {2}"\$schema": "https:\/\/json-schema\.org\/draft\/2020-12\/schema",\n/);
      const keys = Object.keys(JSON.parse(text) as object);
      expect(keys).toEqual([...keys].sort());
    }
  });
});
