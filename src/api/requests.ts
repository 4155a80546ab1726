import { z } from 'zod';
import { describeIssues } from '../contract/describeIssues.ts';
import { snowflake } from '../contract/events.ts';
import { isSnowflake, type Snowflake } from '../contract/snowflake.ts';
import { ApiError } from './apiError.ts';

export const MAX_CHANNELS_PER_REQUEST = 1000;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

const channelIds = z
  .array(snowflake)
  .min(1, 'must name at least one channel')
  .max(MAX_CHANNELS_PER_REQUEST, `at most ${MAX_CHANNELS_PER_REQUEST} channels per request`);

export const userParams = z.object({ user_id: snowflake });

/** A Kafka offset as positions give it: a decimal string (or a safe integer), up to 2^63 - 1. */
const offset = z
  .union([z.string().regex(/^\d{1,19}$/, 'must be an offset, a decimal string'), z.number().int().min(0)])
  .transform((value) => BigInt(value))
  .refine((value) => value <= 2n ** 63n - 1n, 'must be an offset below 2^63');

/**
 * `min_positions`: per partition, the offsets the answer must have applied, as `positions` in answers and the
 * publisher SDK's `positions` give them ({"3": {"messages": "120", "acks": "45"}}).
 */
const minPositions = z
  .record(
    z.string().regex(/^\d{1,4}$/, 'keys must be partition numbers'),
    z.strictObject({ messages: offset.optional(), acks: offset.optional() }),
  )
  .refine((record) => Object.keys(record).length <= 10_000, 'at most 10000 partitions')
  .transform((record) => new Map(Object.entries(record).map(([partition, at]) => [Number(partition), at])));

export const queryBody = z.object({
  user_id: snowflake,
  channel_ids: channelIds,
  min_positions: minPositions.optional(),
});

/** GET ?channel_ids=1,2,3: look these channels up. */
export const lookupQuery = z.object({
  channel_ids: z
    .string()
    .transform((list) => list.split(','))
    .pipe(channelIds),
});

const pageSize = 'must be a whole number from 1 to 1000';

/** GET without channel_ids: page through the user's read states in channel-id order. */
export const pageQuery = z.object({
  limit: z.coerce
    .number({ error: pageSize })
    .int(pageSize)
    .min(1, pageSize)
    .max(MAX_PAGE_SIZE, pageSize)
    .default(DEFAULT_PAGE_SIZE),
  cursor: snowflake.optional(),
  /** Between instances: list only these partitions (comma list); see engine/clusterReads.ts. */
  partitions: z
    .string()
    .regex(/^\d{1,4}(,\d{1,4})*$/, 'must be a comma list of partition numbers')
    .transform((list) => [...new Set(list.split(',').map(Number))])
    .optional(),
});

/** Parses request input or throws a 400 whose message names the field. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new ApiError('invalid_request', describeIssues(parsed.error.issues, 3).join('; '));
}

/**
 * `?channel_ids=` of a valid lookup, checked without the schema (a tenth of its cost for 50 ids); undefined when
 * anything is wrong, and then `parseInput(lookupQuery, …)` says what. Accepts exactly what the schema accepts.
 */
export function channelIdList(list: unknown): Snowflake[] | undefined {
  if (typeof list !== 'string') return undefined;
  const ids = list.split(',');
  if (ids.length > MAX_CHANNELS_PER_REQUEST) return undefined;
  for (const id of ids) if (!isSnowflake(id)) return undefined;
  return ids;
}
