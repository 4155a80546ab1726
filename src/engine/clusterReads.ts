import { z } from 'zod';
import { API_ERRORS, ApiError, DEFAULT_RETRY_AFTER_SECONDS, type ApiErrorCode } from '../api/apiError.ts';
import {
  HOP_HEADER,
  type Answer,
  type Freshness,
  type LookupContext,
  type Reads,
  type ReadStateSource,
} from '../api/app.ts';
import { describeIssues } from '../contract/describeIssues.ts';
import { snowflake } from '../contract/events.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import { ownerUrl, previousUrl, type ClusterMap } from '../ingest/clusterMap.ts';
import type { PartitionStatesReader } from '../ingest/partitionStates.ts';
import type { AnsweredReadState } from '../api/lookupResponse.ts';

/** How long a lookup waits for `min_positions` to be applied here before it answers 503 not_caught_up. */
export const MIN_POSITIONS_WAIT_MS = 2_000;
/** How long an instance waits for another's answer before it answers 503 owner_unreachable. */
export const PEER_TIMEOUT_MS = 3_000;
const MIN_POSITIONS_POLL_MS = 5;

/** Where one partition's part of a request is answered: here, or by the instance at `url` (hop: its 1 or 2). */
type Route = { here: true } | { here: false; url: string; hop: 1 | 2 };

/**
 * Any instance answers any lookup, as Kafka Streams' interactive queries do, from the consumer group's own map of
 * every partition's owner (clusterMap.ts). Per partition of the channels asked:
 * - served here: answered here (after waiting, within a bound, for `min_positions`);
 * - owned by another instance: the request goes there, once (`x-readstates-hop: 1`);
 * - handing over here (a rebalance under way here, or asked by the new owner while it restores): answered here,
 *   marked stale, as its state stands;
 * - owned here or there but still restoring: the request goes to the previous owner (hop 2), which answers only from
 *   a state it is handing over;
 * - else 503 with Retry-After, naming why.
 * A request passed on is never passed on again beyond those two hops, so no request can loop. The parts are asked
 * per instance in parallel and merged in the order asked, with the positions each part reports.
 */
export function clusterReads(options: {
  /** This instance's advertised URL, to tell itself apart in the map. */
  self: string;
  map: () => ClusterMap | undefined;
  partitions: PartitionStatesReader;
  partitionCount: number;
  partitionsOf: (channelIds: readonly Snowflake[]) => readonly number[];
  /** This instance's own state (readThrough.ts): it refuses what it may not answer. */
  local: ReadStateSource;
  freshness: (channelIds: readonly Snowflake[]) => Freshness;
  fetch?: typeof fetch;
}): Reads {
  const { partitions, self } = options;
  const send = options.fetch ?? fetch;

  function route(partition: number, context: LookupContext): Route {
    const state = partitions.state(partition);
    if (state === 'serving') return { here: true };
    const map = options.map();
    const owner = ownerUrl(map, partition);
    if (context.hop === 0 && owner !== '' && owner !== self) return { here: false, url: owner, hop: 1 };
    // A state handed over is answered only while the hand-over is under way: asked by the new owner while it
    // restores (hop 2), by a peer during this instance's own rebalance (hop 1), or here while the map still names
    // this instance (a rebalance it is in). Never in its stead later: it only grows older.
    if (state === 'handing_over' && (context.hop > 0 || owner === self)) {
      if (meetsMinimum(partition, context)) return { here: true };
    }
    if (context.hop <= 1 && state === 'restoring') {
      const previous = previousUrl(map, partition);
      if (previous !== '' && previous !== self) return { here: false, url: previous, hop: 2 };
    }
    if (state === 'restoring') {
      throw new ApiError(
        'partition_restoring',
        `partition ${partition} is catching up with Kafka on its new owner; retry shortly`,
      );
    }
    if (state === 'handing_over' && !meetsMinimum(partition, context)) {
      throw new ApiError(
        'not_caught_up',
        `partition ${partition} has not reached min_positions here and is moving to another instance; retry`,
        { retryAfterSeconds: 1 },
      );
    }
    throw new ApiError(
      'partition_not_owned',
      `no instance is known to serve partition ${partition} now (a rebalance is under way); retry shortly`,
    );
  }

  function meetsMinimum(partition: number, context: LookupContext): boolean {
    const wanted = context.minPositions?.get(partition);
    if (wanted === undefined) return true;
    const at = partitions.position(partition);
    return (wanted.messages ?? 0n) <= at.messages && (wanted.acks ?? 0n) <= at.acks;
  }

  /** Waits, within MIN_POSITIONS_WAIT_MS, until every partition answered here has applied `min_positions`. */
  async function reachMinimum(here: readonly number[], context: LookupContext): Promise<void> {
    if (context.minPositions === undefined) return;
    const deadline = performance.now() + MIN_POSITIONS_WAIT_MS;
    for (;;) {
      const behind = here.filter((partition) => !meetsMinimum(partition, context));
      if (behind.length === 0) return;
      if (performance.now() >= deadline) {
        throw new ApiError(
          'not_caught_up',
          `partition ${behind.join(', ')} has not applied min_positions within ${MIN_POSITIONS_WAIT_MS} ms; retry`,
          { retryAfterSeconds: 1 },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, MIN_POSITIONS_POLL_MS));
    }
  }

  /** One part of a request, asked of another instance; its refusals come back as they were given. */
  async function ask(
    url: string,
    hop: 1 | 2,
    request: { method: 'POST'; body: unknown } | { method: 'GET'; path: string },
    context: LookupContext,
  ): Promise<{ read_states: AnsweredReadState[]; positions?: Freshness['positions']; stale?: boolean }> {
    const headers: Record<string, string> = { [HOP_HEADER]: String(hop) };
    if (context.authorization !== undefined) headers.authorization = context.authorization;
    let response: Response;
    try {
      response =
        request.method === 'POST'
          ? await send(`${url}/v1/read-states/query`, {
              method: 'POST',
              headers: { ...headers, 'content-type': 'application/json' },
              body: JSON.stringify(request.body),
              signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
            })
          : await send(`${url}${request.path}`, { headers, signal: AbortSignal.timeout(PEER_TIMEOUT_MS) });
    } catch (error) {
      throw new ApiError(
        'owner_unreachable',
        `the instance at ${url}, which owns part of this request, did not answer (${(error as Error).message}); retry`,
      );
    }
    const body = (await response.json().catch(() => undefined)) as
      | {
          read_states?: AnsweredReadState[];
          positions?: Freshness['positions'];
          stale?: boolean;
          error?: { code?: string; message?: string };
        }
      | undefined;
    if (response.status === 200 && Array.isArray(body?.read_states)) {
      // Checked before any of it is passed on: answers are written out without escaping (lookupResponse.ts).
      const answer = peerAnswer.safeParse(body);
      if (answer.success) return answer.data;
      throw new ApiError(
        'owner_unreachable',
        `the instance at ${url} answered read states that are not valid (${describeIssues(answer.error.issues, 2).join('; ')}): ` +
          'instances of one group must run the same version; retry',
      );
    }
    const code = body?.error?.code;
    if (response.status === 503 && isUnavailableCode(code)) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new ApiError(code, `${body?.error?.message ?? 'unavailable'} (at ${url})`, {
        retryAfterSeconds:
          Number.isInteger(retryAfter) && retryAfter > 0 ? retryAfter : DEFAULT_RETRY_AFTER_SECONDS,
      });
    }
    throw new ApiError(
      'owner_unreachable',
      `the instance at ${url} answered ${response.status} (${body?.error?.code ?? 'no error code'}): ` +
        'instances of one group must share API_TOKENS and topics; retry',
    );
  }

  function merge(parts: readonly Freshness[]): Freshness {
    const positions: Freshness['positions'] = {};
    let stale = false;
    for (const part of parts) {
      Object.assign(positions, part.positions);
      stale ||= part.stale;
    }
    // Ascending partitions, whatever order the parts came in.
    const sorted = Object.fromEntries(Object.entries(positions).sort(([a], [b]) => Number(a) - Number(b)));
    return { positions: sorted, stale };
  }

  function minimumFor(partitionList: readonly number[], context: LookupContext) {
    if (context.minPositions === undefined) return undefined;
    const wanted: Record<string, { messages?: string; acks?: string }> = {};
    for (const partition of partitionList) {
      const at = context.minPositions.get(partition);
      if (at === undefined) continue;
      wanted[partition] = {
        ...(at.messages === undefined ? {} : { messages: at.messages.toString() }),
        ...(at.acks === undefined ? {} : { acks: at.acks.toString() }),
      };
    }
    return Object.keys(wanted).length === 0 ? undefined : wanted;
  }

  /** Routes every partition of `used`; the partitions answered here, and the others per instance. */
  function plan(used: Iterable<number>, context: LookupContext) {
    const here: number[] = [];
    const there = new Map<string, { hop: 1 | 2; partitions: number[] }>();
    for (const partition of used) {
      const where = route(partition, context);
      if (where.here) {
        here.push(partition);
        continue;
      }
      const key = `${where.hop} ${where.url}`;
      const group = there.get(key) ?? { hop: where.hop, partitions: [] };
      group.partitions.push(partition);
      there.set(key, group);
    }
    return { here, there };
  }

  return {
    async lookup(userId, channelIds, context) {
      const asked = options.partitionsOf(channelIds);
      const { here, there } = plan(new Set(asked), context);
      if (there.size === 0) {
        await reachMinimum(here, context);
        const freshness = options.freshness(channelIds);
        return { views: await options.local.lookup(userId, channelIds), freshness };
      }
      const views = new Array<AnsweredReadState | undefined>(channelIds.length);
      const parts: Promise<Freshness>[] = [];
      const pick = (partitionSet: ReadonlySet<number>) => {
        const indexes: number[] = [];
        asked.forEach((partition, index) => {
          if (partitionSet.has(partition)) indexes.push(index);
        });
        return indexes;
      };
      if (here.length > 0) {
        const indexes = pick(new Set(here));
        const ids = indexes.map((index) => channelIds[index] as Snowflake);
        parts.push(
          (async () => {
            await reachMinimum(here, context);
            const freshness = options.freshness(ids);
            const found = await options.local.lookup(userId, ids);
            indexes.forEach((index, i) => (views[index] = found[i]));
            return freshness;
          })(),
        );
      }
      for (const [key, { hop, partitions: partitionList }] of there) {
        const url = key.slice(key.indexOf(' ') + 1);
        const indexes = pick(new Set(partitionList));
        const ids = indexes.map((index) => channelIds[index] as Snowflake);
        const minimum = minimumFor(partitionList, context);
        parts.push(
          ask(
            url,
            hop,
            {
              method: 'POST',
              body: {
                user_id: userId,
                channel_ids: ids,
                ...(minimum === undefined ? {} : { min_positions: minimum }),
              },
            },
            context,
          ).then((answer) => {
            if (answer.read_states.length !== ids.length) {
              throw new ApiError(
                'owner_unreachable',
                `the instance at ${url} answered a different number of read states; retry`,
              );
            }
            indexes.forEach(
              (index, i) => (views[index] = viewOf(answer.read_states[i] as AnsweredReadState)),
            );
            return { positions: answer.positions ?? {}, stale: answer.stale === true };
          }),
        );
      }
      const freshness = merge(await Promise.all(parts));
      return { views: views as AnsweredReadState[], freshness };
    },

    async list(userId, page, context) {
      const beyond = page.partitions?.find((partition) => partition >= options.partitionCount);
      if (beyond !== undefined) {
        throw new ApiError(
          'invalid_request',
          `partitions: ${beyond} is not a partition of the topics (they have ${options.partitionCount})`,
        );
      }
      const wanted =
        page.partitions ?? Array.from({ length: options.partitionCount }, (_, partition) => partition);
      // As lookups: a listing passed on (hop 1) still goes to the previous owner of a partition restoring there.
      const { here, there } = plan(wanted, context);
      const pageQuery = (partitionList: readonly number[]) =>
        `?limit=${page.limit}${page.after === undefined ? '' : `&cursor=${page.after}`}&partitions=${partitionList.join(',')}`;
      const parts: Promise<{ views: AnsweredReadState[]; freshness: Freshness }>[] = [];
      if (here.length > 0) {
        parts.push(
          (async () => {
            const channels = await options.local.listChannels(userId, {
              limit: page.limit,
              ...(page.after === undefined ? {} : { after: page.after }),
              partitions: here,
            });
            const freshness = options.freshness(channels);
            // The listing's partitions, even those where the user has no read state: the page is complete there,
            // and as fresh as the least fresh of them.
            for (const partition of here) {
              const { messages, acks } = partitions.position(partition);
              if (!(partition in freshness.positions)) {
                freshness.positions[partition] = { messages: messages.toString(), acks: acks.toString() };
              }
              freshness.stale ||= partitions.state(partition) === 'handing_over';
            }
            return { views: await options.local.lookup(userId, channels), freshness };
          })(),
        );
      }
      for (const [key, { hop, partitions: partitionList }] of there as Map<
        string,
        { hop: 1 | 2; partitions: number[] }
      >) {
        const url = key.slice(key.indexOf(' ') + 1);
        parts.push(
          ask(
            url,
            hop,
            { method: 'GET', path: `/v1/users/${userId}/read-states${pageQuery(partitionList)}` },
            context,
          ).then((answer) => ({
            views: answer.read_states.map(viewOf),
            freshness: { positions: answer.positions ?? {}, stale: answer.stale === true },
          })),
        );
      }
      const answers = await Promise.all(parts);
      const views = answers
        .flatMap((answer) => answer.views)
        .sort((a, b) => compareIds(a.channel_id, b.channel_id))
        .slice(0, page.limit);
      return { views, freshness: merge(answers.map((answer) => answer.freshness)) } satisfies Answer;
    },
  };
}

const count = z.number().int().nonnegative();
/** Offsets and partition numbers, as the positions of an answer write them. */
const digits = z.string().regex(/^\d{1,20}$/);
/** A peer's 200 answer to a lookup passed on: what this instance then sends on as its own. */
const peerAnswer = z.object({
  read_states: z.array(
    z.object({
      channel_id: snowflake,
      last_acked_message_id: snowflake.nullable(),
      last_message_id: snowflake.nullable(),
      unread_count: count,
      mention_count: count,
      first_unread_message_id: snowflake.nullable(),
    }),
  ),
  positions: z.record(digits, z.object({ messages: digits, acks: digits })).optional(),
  stale: z.boolean().optional(),
});

/** A read state as another instance sent it: only the fields answers carry, whatever else came. */
function viewOf(wire: AnsweredReadState): AnsweredReadState {
  return {
    channel_id: wire.channel_id,
    last_acked_message_id: wire.last_acked_message_id,
    last_message_id: wire.last_message_id,
    unread_count: wire.unread_count,
    mention_count: wire.mention_count,
    first_unread_message_id: wire.first_unread_message_id,
  };
}

function compareIds(a: Snowflake, b: Snowflake): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

/** A 503 code of ours: another instance's refusal is passed on as it was given. */
function isUnavailableCode(code: unknown): code is ApiErrorCode {
  return (
    typeof code === 'string' && Object.hasOwn(API_ERRORS, code) && API_ERRORS[code as ApiErrorCode] === 503
  );
}
