/**
 * The router of lookups and listings across instances (engine/clusterReads.ts): which partitions are answered
 * here, which are asked of another instance (hop 1: the owner; hop 2: the previous owner while the owner restores),
 * which are refused and with which 503; how the parts are merged. Peers are injected `fetch` functions; the last
 * property runs three routers behind their real HTTP apps (`app.inject`) as one cluster.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { API_ERRORS, ApiError, type ApiErrorCode } from '../../src/api/apiError.ts';
import {
  buildApp,
  HOP_HEADER,
  type App,
  type LookupContext,
  type MinPositions,
  type Reads,
  type ReadStateSource,
} from '../../src/api/app.ts';
import type { AnsweredReadState } from '../../src/api/lookupResponse.ts';
import { compareSnowflakes, type Snowflake } from '../../src/contract/snowflake.ts';
import { clusterReads, MIN_POSITIONS_WAIT_MS } from '../../src/engine/clusterReads.ts';
import { freshnessOf } from '../../src/engine/readThrough.ts';
import type { ClusterMap } from '../../src/ingest/clusterMap.ts';
import {
  createPartitionStates,
  type PartitionState,
  type PartitionStates,
} from '../../src/ingest/partitionStates.ts';
import { createLogger } from '../../src/logger.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';

const A = 'http://a.readstates:8080';
const B = 'http://b.readstates:8080';
const C = 'http://c.readstates:8080';
const MEMBERS = [A, B, C];
const USER = '42';
const PARTITIONS = 4;

/** Channel n lies on partition n mod 4 (in the examples; the properties pick their own count). */
const partitionOf = (channelId: Snowflake, count = PARTITIONS): number =>
  Number(BigInt(channelId) % BigInt(count));
const channelOn = (partition: number, k = 0): Snowflake => String(1000 + PARTITIONS * k + partition);

/** Marks who answered a channel: 0 here, else 1 + the answering member's index. */
const HERE = 0;
const markerOf = (url: string): number => MEMBERS.indexOf(new URL(url).origin) + 1;

function readState(channelId: Snowflake, marker: number): ReadStateView {
  return {
    user_id: USER,
    channel_id: channelId,
    has_read_state: true,
    last_acked_message_id: null,
    last_message_id: channelId,
    unread_count: marker,
    mention_count: 0,
    first_unread_message_id: marker === 0 ? null : channelId,
  };
}

/** What an answer carries of a read state (what `viewOf` keeps of a peer's). */
function answered(channelId: Snowflake, marker: number): AnsweredReadState {
  return {
    channel_id: channelId,
    last_acked_message_id: null,
    last_message_id: channelId,
    unread_count: marker,
    mention_count: 0,
    first_unread_message_id: marker === 0 ? null : channelId,
  };
}

function mapOf(
  owners: readonly (string | undefined)[],
  previous: readonly (string | undefined)[] = [],
  count = PARTITIONS,
): ClusterMap {
  const index = (url: string | undefined) => (url === undefined ? -1 : MEMBERS.indexOf(url));
  return {
    v: 1,
    assignedAt: 0,
    members: MEMBERS,
    owners: Array.from({ length: count }, (_, partition) => index(owners[partition])),
    previous: Array.from({ length: count }, (_, partition) => index(previous[partition])),
  };
}

function setState(partitions: PartitionStates, partition: number, state: PartitionState): void {
  if (state === 'not_owned') partitions.retire(partition);
  else partitions.set(partition, state);
}

/** This instance's own state: records what it is asked; lists `listed` (all on partitions it is asked for). */
function fakeLocal(listed: readonly Snowflake[] = []) {
  const lookups: Snowflake[][] = [];
  const listings: { limit: number; after?: Snowflake; partitions?: readonly number[] }[] = [];
  const source: ReadStateSource = {
    lookup(_userId, channelIds) {
      lookups.push([...channelIds]);
      return Promise.resolve(channelIds.map((channelId) => readState(channelId, HERE)));
    },
    listChannels(_userId, options) {
      listings.push(options);
      return Promise.resolve(
        listed
          .filter((channelId) => options.partitions?.includes(partitionOf(channelId)) ?? true)
          .filter(
            (channelId) => options.after === undefined || compareSnowflakes(channelId, options.after) > 0,
          )
          .toSorted(compareSnowflakes)
          .slice(0, options.limit),
      );
    },
  };
  return { source, lookups, listings };
}

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: { user_id: Snowflake; channel_ids: Snowflake[]; min_positions?: unknown } | undefined;
  signal: AbortSignal | undefined;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/** Where the peers' answers claim to stand: partition p at 100 * marker + p. */
const peerPosition = (marker: number, partition: number) => ({
  messages: String(100 * marker + partition),
  acks: String(partition),
});

/**
 * Other instances that answer whatever they are asked: a lookup with one read state per channel (with fields an
 * answer must not pass on), a listing from `listed` as the query asks.
 */
function answering(
  options: { listed?: readonly Snowflake[]; stale?: (url: string) => boolean; count?: number } = {},
) {
  return (sent: Sent): Response => {
    const marker = markerOf(sent.url);
    const stale = options.stale?.(sent.url) ?? false;
    if (sent.body !== undefined) {
      const partitions = new Set(
        sent.body.channel_ids.map((channelId) => partitionOf(channelId, options.count)),
      );
      return json(200, {
        user_id: sent.body.user_id,
        read_states: sent.body.channel_ids.map((channelId) => ({
          ...readState(channelId, marker),
          secret: 'not for the client',
        })),
        positions: Object.fromEntries([...partitions].map((p) => [p, peerPosition(marker, p)])),
        stale,
      });
    }
    const query = new URL(sent.url).searchParams;
    const partitions = (query.get('partitions') ?? '').split(',').map(Number);
    const after = query.get('cursor');
    const channels = (options.listed ?? [])
      .filter((channelId) => partitions.includes(partitionOf(channelId)))
      .filter((channelId) => after === null || compareSnowflakes(channelId, after) > 0)
      .toSorted(compareSnowflakes)
      .slice(0, Number(query.get('limit')));
    return json(200, {
      user_id: USER,
      read_states: channels.map((channelId) => readState(channelId, marker)),
      positions: Object.fromEntries(partitions.map((p) => [p, peerPosition(marker, p)])),
      stale,
    });
  };
}

const urlOf = (input: string | URL | Request): string =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;

/** A `fetch` that records every request and lets `peer` answer it. */
function fakeFetch(peer: (sent: Sent) => Response | Promise<Response> = answering()) {
  const sent: Sent[] = [];
  const send = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request: Sent = {
      url: urlOf(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string> | undefined) },
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as Sent['body']) : undefined,
      signal: init?.signal ?? undefined,
    };
    sent.push(request);
    return peer(request);
  };
  return { fetch: send, sent };
}

function router(
  options: {
    states?: Partial<Record<number, PartitionState>>;
    positions?: Partial<Record<number, { messages: bigint; acks: bigint }>>;
    map?: ClusterMap;
    fetch?: typeof fetch;
    local?: ReadStateSource;
    self?: string;
    partitionCount?: number;
  } = {},
) {
  const partitionCount = options.partitionCount ?? PARTITIONS;
  const partitions = createPartitionStates();
  for (const [partition, state] of Object.entries(options.states ?? {})) {
    if (state !== undefined) setState(partitions, Number(partition), state);
  }
  for (const [partition, at] of Object.entries(options.positions ?? {})) {
    if (at === undefined) continue;
    partitions.setPosition(Number(partition), 'messages', at.messages);
    partitions.setPosition(Number(partition), 'acks', at.acks);
  }
  const partitionsOf = (channelIds: readonly Snowflake[]) =>
    channelIds.map((channelId) => partitionOf(channelId, partitionCount));
  const reads = clusterReads({
    self: options.self ?? A,
    map: () => options.map,
    partitions,
    partitionCount,
    partitionsOf,
    local: options.local ?? fakeLocal().source,
    freshness: freshnessOf(partitions, partitionsOf),
    fetch: options.fetch ?? fakeFetch().fetch,
  });
  return { reads, partitions };
}

function context(options: Partial<LookupContext> = {}): LookupContext {
  return { hop: 0, authorization: undefined, minPositions: undefined, ...options };
}

const allServing = { 0: 'serving', 1: 'serving', 2: 'serving', 3: 'serving' } as const;

/** The refusal `promise` ends with: always an ApiError with a 503 and a Retry-After. */
async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ApiError);
  const apiError = error as ApiError;
  expect(apiError.status).toBe(503);
  expect(apiError.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  return apiError;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('lookups: what is answered here', () => {
  it('answers channels of partitions served here in one local lookup, in the order asked, asking no one', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: allServing,
      positions: { 0: { messages: 5n, acks: 6n }, 2: { messages: 7n, acks: 8n } },
      map: mapOf([A, A, A, A]),
      local: local.source,
      fetch: peers.fetch,
    });
    const asked = [channelOn(2), channelOn(0), channelOn(2, 1)];

    const { views, freshness } = await reads.lookup(USER, asked, context());

    expect(views.map((view) => view.channel_id)).toEqual(asked);
    expect(local.lookups).toEqual([asked]);
    expect(peers.sent).toEqual([]);
    expect(freshness).toEqual({
      positions: { 0: { messages: '5', acks: '6' }, 2: { messages: '7', acks: '8' } },
      stale: false,
    });
  });

  it('answers a partition it serves here even when its map (maybe older) names another owner', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: allServing,
      map: mapOf([B, C, B, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    await reads.lookup(USER, [channelOn(1)], context());

    expect(local.lookups).toEqual([[channelOn(1)]]);
    expect(peers.sent).toEqual([]);
  });

  it('answers a partition it is handing over here, marked stale, while the map still names this instance (its own rebalance)', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving', 1: 'handing_over' },
      positions: { 1: { messages: 9n, acks: 4n } },
      map: mapOf([A, A, A, A]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { freshness } = await reads.lookup(USER, [channelOn(0), channelOn(1)], context());

    expect(local.lookups).toEqual([[channelOn(0), channelOn(1)]]);
    expect(peers.sent).toEqual([]);
    expect(freshness?.stale).toBe(true);
    expect(freshness?.positions[1]).toEqual({ messages: '9', acks: '4' });
  });
});

describe('lookups: what is asked of other instances', () => {
  it('asks each owner once (hop 1) for its channels in the order asked, and merges the answers back in that order', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving' },
      positions: { 0: { messages: 11n, acks: 12n } },
      map: mapOf([A, B, C, B]),
      local: local.source,
      fetch: peers.fetch,
    });
    const asked = [channelOn(1), channelOn(0), channelOn(2), channelOn(3), channelOn(1, 1), channelOn(0, 1)];

    const { views, freshness } = await reads.lookup(USER, asked, context());

    const byUrl = new Map(peers.sent.map((sent) => [sent.url, sent]));
    expect(peers.sent).toHaveLength(2);
    expect(byUrl.get(`${B}/v1/read-states/query`)?.body?.channel_ids).toEqual([
      channelOn(1),
      channelOn(3),
      channelOn(1, 1),
    ]);
    expect(byUrl.get(`${C}/v1/read-states/query`)?.body?.channel_ids).toEqual([channelOn(2)]);
    expect(peers.sent.map((sent) => sent.headers[HOP_HEADER])).toEqual(['1', '1']);
    expect(local.lookups).toEqual([[channelOn(0), channelOn(0, 1)]]);
    // Peers' extra fields (and user_id, has_read_state) are not passed on.
    expect(views.slice(0, 4)).toEqual([
      answered(channelOn(1), markerOf(B)),
      readState(channelOn(0), HERE),
      answered(channelOn(2), markerOf(C)),
      answered(channelOn(3), markerOf(B)),
    ]);
    expect(views.map((view) => [view.channel_id, view.unread_count])).toEqual([
      [channelOn(1), markerOf(B)],
      [channelOn(0), HERE],
      [channelOn(2), markerOf(C)],
      [channelOn(3), markerOf(B)],
      [channelOn(1, 1), markerOf(B)],
      [channelOn(0, 1), HERE],
    ]);
    expect(freshness).toEqual({
      positions: {
        0: { messages: '11', acks: '12' },
        1: peerPosition(markerOf(B), 1),
        2: peerPosition(markerOf(C), 2),
        3: peerPosition(markerOf(B), 3),
      },
      stale: false,
    });
    expect(Object.keys(freshness?.positions ?? {})).toEqual(['0', '1', '2', '3']);
  });

  it('posts JSON to the peer with the hop header, the client’s Authorization, and a timeout signal', async () => {
    const peers = fakeFetch();
    const { reads } = router({ map: mapOf([B, B, B, B]), fetch: peers.fetch });

    await reads.lookup(USER, [channelOn(1)], context({ authorization: 'Bearer s3cret' }));
    await reads.lookup(USER, [channelOn(2)], context());

    const [withToken, withoutToken] = peers.sent;
    expect(withToken?.method).toBe('POST');
    expect(withToken?.url).toBe(`${B}/v1/read-states/query`);
    expect(withToken?.headers).toEqual({
      [HOP_HEADER]: '1',
      authorization: 'Bearer s3cret',
      'content-type': 'application/json',
    });
    expect(withToken?.body).toEqual({ user_id: USER, channel_ids: [channelOn(1)] });
    expect(withToken?.signal).toBeInstanceOf(AbortSignal);
    expect(withoutToken?.headers).not.toHaveProperty('authorization');
  });

  it('answers a channel asked twice twice, in place, here and elsewhere', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving' },
      map: mapOf([A, B]),
      local: local.source,
      fetch: peers.fetch,
    });
    const asked = [channelOn(1), channelOn(0), channelOn(1), channelOn(0)];

    const { views } = await reads.lookup(USER, asked, context());

    expect(views.map((view) => [view.channel_id, view.unread_count])).toEqual([
      [channelOn(1), markerOf(B)],
      [channelOn(0), HERE],
      [channelOn(1), markerOf(B)],
      [channelOn(0), HERE],
    ]);
    expect(peers.sent.map((sent) => sent.body?.channel_ids)).toEqual([[channelOn(1), channelOn(1)]]);
    expect(local.lookups).toEqual([[channelOn(0), channelOn(0)]]);
  });

  it('is stale when any part is', async () => {
    const peers = fakeFetch(answering({ stale: (url) => url.startsWith(C) }));
    const { reads } = router({ states: { 0: 'serving' }, map: mapOf([A, B, C, B]), fetch: peers.fetch });

    const onB = await reads.lookup(USER, [channelOn(0), channelOn(1)], context());
    const onC = await reads.lookup(USER, [channelOn(0), channelOn(1), channelOn(2)], context());

    expect(onB.freshness?.stale).toBe(false);
    expect(onC.freshness?.stale).toBe(true);
  });

  it('sends a partition it is handing over to its new owner, who is fresher (hop 1)', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 1: 'handing_over' },
      map: mapOf([A, B]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { views } = await reads.lookup(USER, [channelOn(1)], context());

    expect(peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER]])).toEqual([
      [`${B}/v1/read-states/query`, '1'],
    ]);
    expect(local.lookups).toEqual([]);
    expect(views[0]?.unread_count).toBe(markerOf(B));
  });

  it('asks the previous owner (hop 2) for a partition this instance owns but still restores', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving', 1: 'restoring' },
      map: mapOf([A, A], [undefined, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { views } = await reads.lookup(USER, [channelOn(1), channelOn(0)], context());

    expect(peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER], sent.body?.channel_ids])).toEqual([
      [`${C}/v1/read-states/query`, '2', [channelOn(1)]],
    ]);
    expect(local.lookups).toEqual([[channelOn(0)]]);
    expect(views.map((view) => view.unread_count)).toEqual([markerOf(C), HERE]);
  });

  it('groups by instance and hop: the same instance asked as owner and as previous owner gets two requests', async () => {
    const peers = fakeFetch();
    // Partition 1 is B's; partition 2 is restoring here and B had it before.
    const { reads } = router({
      states: { 2: 'restoring' },
      map: mapOf([A, B, A], [undefined, undefined, B]),
      fetch: peers.fetch,
    });

    await reads.lookup(USER, [channelOn(1), channelOn(2)], context());

    expect(
      peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER], sent.body?.channel_ids]).toSorted(),
    ).toEqual([
      [`${B}/v1/read-states/query`, '1', [channelOn(1)]],
      [`${B}/v1/read-states/query`, '2', [channelOn(2)]],
    ]);
  });
});

describe('lookups: refusals', () => {
  it.each<[string, PartitionState, ClusterMap | undefined, ApiErrorCode]>([
    ['restoring here, no previous owner', 'restoring', mapOf([A, A]), 'partition_restoring'],
    [
      'restoring here, this instance named previous owner',
      'restoring',
      mapOf([A, A], [undefined, A]),
      'partition_restoring',
    ],
    ['restoring here, no map', 'restoring', undefined, 'partition_restoring'],
    ['not owned, no map', 'not_owned', undefined, 'partition_not_owned'],
    ['not owned, no owner in the map', 'not_owned', mapOf([A]), 'partition_not_owned'],
    [
      'not owned, the map naming this instance (ahead of its states)',
      'not_owned',
      mapOf([A, A]),
      'partition_not_owned',
    ],
    [
      'not owned, only a previous owner known',
      'not_owned',
      mapOf([A], [undefined, B]),
      'partition_not_owned',
    ],
    // A state handed over is not answered in the stead of an owner it does not know (it only grows older).
    ['handing over, no map', 'handing_over', undefined, 'partition_not_owned'],
    ['handing over, no owner in the map', 'handing_over', mapOf([A]), 'partition_not_owned'],
  ])('%s: 503 %s, asking no one, reading nothing', async (_, state, map, code) => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving', 1: state },
      map,
      local: local.source,
      fetch: peers.fetch,
    });

    const error = await refusal(reads.lookup(USER, [channelOn(0), channelOn(1)], context()));

    expect(error.code).toBe(code);
    expect(error.message).toContain('partition 1');
    expect(peers.sent).toEqual([]);
    expect(local.lookups).toEqual([]);
  });

  it('refuses the whole request when one partition cannot be answered, before asking any peer', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving' },
      map: mapOf([A, B, undefined, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    const error = await refusal(
      reads.lookup(USER, [channelOn(0), channelOn(1), channelOn(3), channelOn(2)], context()),
    );

    expect(error.code).toBe('partition_not_owned');
    expect(peers.sent).toEqual([]);
    expect(local.lookups).toEqual([]);
  });
});

describe('lookups passed on by another instance (no loops)', () => {
  it('at hop 1, never sends to an owner again, even when the map names another one', async () => {
    const peers = fakeFetch();
    const { reads } = router({ states: { 0: 'serving' }, map: mapOf([A, B]), fetch: peers.fetch });

    const error = await refusal(reads.lookup(USER, [channelOn(1)], context({ hop: 1 })));

    expect(error.code).toBe('partition_not_owned');
    expect(peers.sent).toEqual([]);
  });

  it('at hop 1, answers what it is handing over here even though the map names another owner', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 1: 'handing_over' },
      map: mapOf([A, B]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { freshness } = await reads.lookup(USER, [channelOn(1)], context({ hop: 1 }));

    expect(local.lookups).toEqual([[channelOn(1)]]);
    expect(peers.sent).toEqual([]);
    expect(freshness?.stale).toBe(true);
  });

  it('at hop 1, sends a partition it restores to the previous owner with hop 2, passing the Authorization on', async () => {
    const peers = fakeFetch();
    const { reads } = router({
      states: { 1: 'restoring' },
      map: mapOf([A, A], [undefined, C]),
      fetch: peers.fetch,
    });

    await reads.lookup(USER, [channelOn(1)], context({ hop: 1, authorization: 'Bearer t' }));

    expect(
      peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER], sent.headers.authorization]),
    ).toEqual([[`${C}/v1/read-states/query`, '2', 'Bearer t']]);
  });

  it.each<[PartitionState, ApiErrorCode]>([
    ['restoring', 'partition_restoring'],
    ['not_owned', 'partition_not_owned'],
  ])('at hop 2, a partition %s here is refused, never sent on', async (state, code) => {
    const peers = fakeFetch();
    const { reads } = router({
      states: { 1: state },
      map: mapOf([A, B], [undefined, C]),
      fetch: peers.fetch,
    });

    const error = await refusal(reads.lookup(USER, [channelOn(1)], context({ hop: 2 })));

    expect(error.code).toBe(code);
    expect(peers.sent).toEqual([]);
  });

  it('at hop 2, answers what it is handing over (the previous owner’s job)', async () => {
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 1: 'handing_over' },
      map: mapOf([B, B], [undefined, A]),
      local: local.source,
      fetch: peers.fetch,
    });

    await reads.lookup(USER, [channelOn(1)], context({ hop: 2 }));

    expect(local.lookups).toEqual([[channelOn(1)]]);
    expect(peers.sent).toEqual([]);
  });
});

describe('lookups with min_positions (read your writes)', () => {
  const minimum = (entries: [number, { messages?: bigint; acks?: bigint }][]): MinPositions =>
    new Map(entries);

  it('answers at once when the partitions here have applied them', async () => {
    const local = fakeLocal();
    const { reads } = router({
      states: allServing,
      positions: { 0: { messages: 10n, acks: 0n } },
      local: local.source,
    });

    const { freshness } = await reads.lookup(
      USER,
      [channelOn(0)],
      context({
        minPositions: minimum([
          [0, { messages: 10n }],
          [3, { acks: 99n }],
        ]),
      }),
    );

    expect(local.lookups).toEqual([[channelOn(0)]]);
    expect(freshness?.positions[0]).toEqual({ messages: '10', acks: '0' });
  });

  it('waits until they are applied here and reports the positions reached', async () => {
    const local = fakeLocal();
    const { reads, partitions } = router({
      states: allServing,
      positions: { 0: { messages: 3n, acks: 1n } },
      local: local.source,
    });
    setTimeout(() => {
      partitions.setPosition(0, 'messages', 8n);
    }, 20);
    setTimeout(() => {
      partitions.setPosition(0, 'acks', 2n);
    }, 40);

    const { freshness } = await reads.lookup(
      USER,
      [channelOn(0)],
      context({ minPositions: minimum([[0, { messages: 8n, acks: 2n }]]) }),
    );

    expect(freshness?.positions[0]).toEqual({ messages: '8', acks: '2' });
  });

  it(`answers 503 not_caught_up after ${MIN_POSITIONS_WAIT_MS} ms when they are not applied, reading nothing`, async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const local = fakeLocal();
    const { reads } = router({
      states: allServing,
      positions: { 0: { messages: 3n, acks: 1n }, 1: { messages: 50n, acks: 50n } },
      local: local.source,
    });
    let settled = false;
    const answer = reads
      .lookup(
        USER,
        [channelOn(1), channelOn(0)],
        context({
          minPositions: minimum([
            [0, { acks: 2n }],
            [1, { messages: 50n }],
          ]),
        }),
      )
      .finally(() => (settled = true));
    const error = refusal(answer);

    await vi.advanceTimersByTimeAsync(MIN_POSITIONS_WAIT_MS - 100);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(200);

    const refused = await error;
    expect(refused.code).toBe('not_caught_up');
    expect(refused.message).toContain('partition 0');
    expect(refused.retryAfterSeconds).toBe(1);
    expect(local.lookups).toEqual([]);
  });

  it('does not wait for a partition it is handing over (frozen here): 503 not_caught_up at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
    const local = fakeLocal();
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'handing_over' },
      positions: { 0: { messages: 3n, acks: 1n } },
      map: mapOf([A]),
      local: local.source,
      fetch: peers.fetch,
    });

    // No timer advanced: refused without waiting.
    const error = await refusal(
      reads.lookup(USER, [channelOn(0)], context({ minPositions: minimum([[0, { messages: 4n }]]) })),
    );

    expect(error.code).toBe('not_caught_up');
    expect(local.lookups).toEqual([]);
    expect(peers.sent).toEqual([]);
  });

  it('answers from a partition it is handing over when that has applied them (also at hop 2)', async () => {
    const local = fakeLocal();
    const { reads } = router({
      states: { 0: 'handing_over' },
      positions: { 0: { messages: 4n, acks: 1n } },
      map: mapOf([A]),
      local: local.source,
    });

    await reads.lookup(
      USER,
      [channelOn(0)],
      context({ minPositions: minimum([[0, { messages: 4n, acks: 1n }]]) }),
    );
    await reads.lookup(
      USER,
      [channelOn(0)],
      context({ hop: 2, minPositions: minimum([[0, { messages: 4n }]]) }),
    );

    expect(local.lookups).toEqual([[channelOn(0)], [channelOn(0)]]);
  });

  it('passes each peer the min_positions of its own partitions, as decimal strings, and none to a peer without', async () => {
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving' },
      positions: { 0: { messages: 0n, acks: 9n } },
      map: mapOf([A, B, C, B]),
      fetch: peers.fetch,
    });

    await reads.lookup(
      USER,
      [channelOn(0), channelOn(1), channelOn(2), channelOn(3)],
      context({
        minPositions: minimum([
          [0, { acks: 9n }],
          [1, { messages: 2n ** 63n - 1n, acks: 3n }],
          [3, { messages: 12n }],
        ]),
      }),
    );

    const bodyFor = (url: string) => peers.sent.find((sent) => sent.url.startsWith(url))?.body;
    expect(bodyFor(B)).toEqual({
      user_id: USER,
      channel_ids: [channelOn(1), channelOn(3)],
      min_positions: { 1: { messages: '9223372036854775807', acks: '3' }, 3: { messages: '12' } },
    });
    expect(bodyFor(C)).toEqual({ user_id: USER, channel_ids: [channelOn(2)] });
  });
});

describe('lookups: peers that fail', () => {
  /** Partition 0 here, 1 on B, 2 on C; `peer` answers for B, C answers everything. */
  async function askWith(peer: (sent: Sent) => Response | Promise<Response>) {
    const normal = answering();
    const peers = fakeFetch((sent) => (sent.url.startsWith(B) ? peer(sent) : normal(sent)));
    const { reads } = router({ states: { 0: 'serving' }, map: mapOf([A, B, C]), fetch: peers.fetch });
    return refusal(reads.lookup(USER, [channelOn(0), channelOn(1), channelOn(2)], context()));
  }

  it.each([
    ['a network error', new TypeError('fetch failed')],
    ['a timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
  ])('answers 503 owner_unreachable, naming the peer, on %s', async (_, failure) => {
    const error = await askWith(() => Promise.reject(failure));

    expect(error.code).toBe('owner_unreachable');
    expect(error.message).toContain(B);
    expect(error.retryAfterSeconds).toBe(1);
  });

  it.each<[ApiErrorCode, string | undefined, number]>([
    ['partition_restoring', '7', 7],
    ['not_caught_up', undefined, 1],
    ['owner_unreachable', '2', 2],
    ['overloaded', 'soon', 1],
    ['shutting_down', '0', 1],
  ])(
    'passes a peer’s 503 %s on with its code and Retry-After (%s → %i)',
    async (code, retryAfter, seconds) => {
      const error = await askWith(() =>
        json(
          503,
          { error: { code, message: 'the peer says no' } },
          retryAfter === undefined ? {} : { 'retry-after': retryAfter },
        ),
      );

      expect(error.code).toBe(code);
      expect(error.retryAfterSeconds).toBe(seconds);
      expect(error.message).toContain('the peer says no');
      expect(error.message).toContain(B);
    },
  );

  it.each<[string, (sent: Sent) => Response]>([
    [
      '401 unauthorized (API_TOKENS differ)',
      () => json(401, { error: { code: 'unauthorized', message: 'no' } }),
    ],
    ['400 invalid_request', () => json(400, { error: { code: 'invalid_request', message: 'no' } })],
    ['404 without a body', () => new Response(null, { status: 404 })],
    ['500 internal_error', () => json(500, { error: { code: 'internal_error', message: 'boom' } })],
    [
      '503 with a code that is not a 503',
      () => json(503, { error: { code: 'invalid_request', message: 'no' } }),
    ],
    ['503 with an unknown code', () => json(503, { error: { code: 'made_up', message: 'no' } })],
    [
      '503 with a code inherited from Object',
      () => json(503, { error: { code: 'toString', message: 'no' } }),
    ],
    ['503 that is not JSON', () => new Response('<html>busy</html>', { status: 503 })],
    ['200 that is not JSON', () => new Response('ok', { status: 200 })],
    ['200 without read_states', () => json(200, { user_id: USER })],
    ['200 with read_states not a list', () => json(200, { read_states: { 0: {} } })],
    ['200 with fewer read states than asked', () => json(200, { read_states: [] })],
    // Answers are written out without escaping: nothing a peer sends reaches them unchecked.
    [
      '200 with a channel id that is not a snowflake',
      (sent: Sent) =>
        json(200, {
          read_states: (sent.body?.channel_ids ?? []).map((id) => ({
            ...readState(id, 9),
            channel_id: '1","x":"',
          })),
        }),
    ],
    [
      '200 with a negative count',
      (sent: Sent) =>
        json(200, {
          read_states: (sent.body?.channel_ids ?? []).map((id) => ({
            ...readState(id, 9),
            unread_count: -1,
          })),
        }),
    ],
    [
      '200 with a position that is not an offset',
      (sent: Sent) =>
        json(200, {
          read_states: (sent.body?.channel_ids ?? []).map((id) => readState(id, 9)),
          positions: { 1: { messages: '12"', acks: '0' } },
        }),
    ],
  ])('answers 503 owner_unreachable on %s', async (_, peer) => {
    const error = await askWith(peer);

    expect(error.code).toBe('owner_unreachable');
    expect(error.message).toContain(B);
  });

  it('answers 200 with more read states than asked as owner_unreachable too (never a shifted answer)', async () => {
    const error = await askWith((sent) =>
      json(200, {
        read_states: [...(sent.body?.channel_ids ?? []), channelOn(1, 9)].map((id) => readState(id, 9)),
      }),
    );

    expect(error.code).toBe('owner_unreachable');
  });
});

describe('listings', () => {
  // Sorted numerically: 8, 13, 21, 99, 102, 1000, 1003, 1010 (partitions 0, 1, 1, 3, 2, 0, 3, 2).
  const everyChannel = ['1000', '13', '8', '1010', '99', '102', '1003', '21'];

  it('refuses a listing of a partition the topics do not have, naming the field, asking no one', async () => {
    const local = fakeLocal(['1000']);
    const peers = fakeFetch();
    const { reads } = router({ states: allServing, local: local.source, fetch: peers.fetch });
    await expect(
      reads.list(USER, { limit: 2, partitions: [1, PARTITIONS] }, context()),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^partitions: 4 is not a partition/) as unknown,
    });
    expect(local.listings).toEqual([]);
    expect(peers.sent).toEqual([]);
  });

  it('lists from here when every partition is served here, with positions for each, channels or not', async () => {
    const local = fakeLocal(['1000', '13', '8']);
    const peers = fakeFetch();
    const { reads } = router({
      states: allServing,
      positions: { 2: { messages: 6n, acks: 5n } },
      local: local.source,
      fetch: peers.fetch,
    });

    const { views, freshness } = await reads.list(USER, { limit: 2, after: '8' }, context());

    expect(views.map((view) => view.channel_id)).toEqual(['13', '1000']);
    expect(local.listings).toEqual([{ limit: 2, after: '8', partitions: [0, 1, 2, 3] }]);
    expect(local.lookups).toEqual([['13', '1000']]);
    expect(peers.sent).toEqual([]);
    expect(freshness).toEqual({
      positions: {
        0: { messages: '0', acks: '0' },
        1: { messages: '0', acks: '0' },
        2: { messages: '6', acks: '5' },
        3: { messages: '0', acks: '0' },
      },
      stale: false,
    });
  });

  it('merges the listings of every instance in channel-id order and keeps the first `limit`', async () => {
    const local = fakeLocal(everyChannel.filter((id) => [0, 1].includes(partitionOf(id))));
    const peers = fakeFetch(answering({ listed: everyChannel }));
    const { reads } = router({
      states: { 0: 'serving', 1: 'serving' },
      map: mapOf([A, A, B, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    const first = await reads.list(USER, { limit: 5 }, context({ authorization: 'Bearer t' }));
    const next = await reads.list(USER, { limit: 5, after: '102' }, context());

    expect(first.views.map((view) => view.channel_id)).toEqual(['8', '13', '21', '99', '102']);
    expect(first.views.map((view) => view.unread_count)).toEqual([
      HERE,
      HERE,
      HERE,
      markerOf(C),
      markerOf(B),
    ]);
    expect(next.views.map((view) => view.channel_id)).toEqual(['1000', '1003', '1010']);
    expect(peers.sent.map((sent) => [sent.method, sent.url, sent.headers[HOP_HEADER]]).toSorted()).toEqual([
      ['GET', `${B}/v1/users/${USER}/read-states?limit=5&cursor=102&partitions=2`, '1'],
      ['GET', `${B}/v1/users/${USER}/read-states?limit=5&partitions=2`, '1'],
      ['GET', `${C}/v1/users/${USER}/read-states?limit=5&cursor=102&partitions=3`, '1'],
      ['GET', `${C}/v1/users/${USER}/read-states?limit=5&partitions=3`, '1'],
    ]);
    expect(peers.sent.slice(0, 2).map((sent) => sent.headers.authorization)).toEqual([
      'Bearer t',
      'Bearer t',
    ]);
    expect(local.listings[0]).toEqual({ limit: 5, partitions: [0, 1] });
    expect(first.freshness?.positions).toEqual({
      0: { messages: '0', acks: '0' },
      1: { messages: '0', acks: '0' },
      2: peerPosition(markerOf(B), 2),
      3: peerPosition(markerOf(C), 3),
    });
    // Peers' extra fields are not passed on.
    expect(first.views[4]).toEqual(answered('102', markerOf(B)));
  });

  it('lists only the partitions asked, when a client names them', async () => {
    const local = fakeLocal(everyChannel);
    const peers = fakeFetch(answering({ listed: everyChannel }));
    const { reads } = router({
      states: { 0: 'serving' },
      map: mapOf([A, B, C, B]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { views } = await reads.list(USER, { limit: 10, partitions: [0, 3] }, context());

    expect(views.map((view) => view.channel_id)).toEqual(['8', '99', '1000', '1003']);
    expect(peers.sent.map((sent) => sent.url)).toEqual([
      `${B}/v1/users/${USER}/read-states?limit=10&partitions=3`,
    ]);
  });

  it('asks the previous owner (hop 2) for a partition this instance restores', async () => {
    const peers = fakeFetch(answering({ listed: everyChannel }));
    const { reads } = router({
      states: { 0: 'serving', 1: 'serving', 2: 'serving', 3: 'restoring' },
      map: mapOf([A, A, A, A], [undefined, undefined, undefined, C]),
      fetch: peers.fetch,
    });

    await reads.list(USER, { limit: 3 }, context());

    expect(peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER]])).toEqual([
      [`${C}/v1/users/${USER}/read-states?limit=3&partitions=3`, '2'],
    ]);
  });

  it.each([1, 2])('at hop %i lists what it serves or hands over here, asking no one', async (hop) => {
    const local = fakeLocal(everyChannel);
    const peers = fakeFetch();
    const { reads } = router({
      states: { 2: 'serving', 3: 'handing_over' },
      map: mapOf([B, B, A, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    const { freshness } = await reads.list(USER, { limit: 10, partitions: [2, 3] }, context({ hop }));

    expect(local.listings).toEqual([{ limit: 10, partitions: [2, 3] }]);
    expect(peers.sent).toEqual([]);
    expect(freshness?.stale).toBe(true);
  });

  it.each<[number, PartitionState, ApiErrorCode]>([
    [1, 'not_owned', 'partition_not_owned'],
    [2, 'not_owned', 'partition_not_owned'],
    [2, 'restoring', 'partition_restoring'],
  ])('at hop %i refuses a partition %s here, never sending it on to an owner', async (hop, state, code) => {
    const local = fakeLocal(everyChannel);
    const peers = fakeFetch();
    const { reads } = router({
      states: { 2: 'serving', 3: state },
      map: mapOf([B, B, A, C], [undefined, undefined, undefined, B]),
      local: local.source,
      fetch: peers.fetch,
    });

    const error = await refusal(reads.list(USER, { limit: 10, partitions: [2, 3] }, context({ hop })));

    expect(error.code).toBe(code);
    expect(local.listings).toEqual([]);
    expect(peers.sent).toEqual([]);
  });

  it('refuses a listing when a partition has no owner known, asking no one', async () => {
    const local = fakeLocal(everyChannel);
    const peers = fakeFetch();
    const { reads } = router({
      states: { 0: 'serving', 1: 'serving', 2: 'serving' },
      map: mapOf([A, A, A]),
      local: local.source,
      fetch: peers.fetch,
    });

    const error = await refusal(reads.list(USER, { limit: 10 }, context()));

    expect(error.code).toBe('partition_not_owned');
    expect(local.listings).toEqual([]);
    expect(peers.sent).toEqual([]);
  });

  it('passes a peer’s 503 on, and a peer’s failure as owner_unreachable', async () => {
    const restoring = fakeFetch(() =>
      json(503, { error: { code: 'partition_restoring', message: 'wait' } }, { 'retry-after': '3' }),
    );
    const failing = fakeFetch(() => Promise.reject(new TypeError('fetch failed')));
    const states = { 0: 'serving', 1: 'serving', 2: 'serving' } as const;

    const passed = await refusal(
      router({ states, map: mapOf([A, A, A, B]), fetch: restoring.fetch }).reads.list(
        USER,
        { limit: 1 },
        context(),
      ),
    );
    const unreachable = await refusal(
      router({ states, map: mapOf([A, A, A, B]), fetch: failing.fetch }).reads.list(
        USER,
        { limit: 1 },
        context(),
      ),
    );

    expect([passed.code, passed.retryAfterSeconds]).toEqual(['partition_restoring', 3]);
    expect(unreachable.code).toBe('owner_unreachable');
  });

  // A partition listed here that is handed over (frozen: it may lag the log) makes the listing stale, also where
  // the user has no read state: "nothing there" is as old as that state.
  it('a listing is stale when a partition listed here is handing over, even one where the user has no read state', async () => {
    // Partition 3 is being handed over here (frozen); the user's only channel is on partition 0.
    const local = fakeLocal(['1000']);
    const { reads } = router({
      states: { 0: 'serving', 1: 'serving', 2: 'serving', 3: 'handing_over' },
      map: mapOf([A, A, A, A]),
      local: local.source,
    });

    const { views, freshness } = await reads.list(USER, { limit: 10 }, context());

    expect(views.map((view) => view.channel_id)).toEqual(['1000']);
    expect(Object.keys(freshness?.positions ?? {})).toContain('3');
    expect(freshness?.stale).toBe(true);
  });
});

describe('listings passed on to an owner that restores', () => {
  it('at hop 1, asks the previous owner (hop 2) for a partition restoring here, as lookups do', async () => {
    const local = fakeLocal(['1000', '1003']);
    const peers = fakeFetch(answering({ listed: ['1000', '1003'] }));
    const { reads } = router({
      states: { 0: 'serving', 3: 'restoring' },
      map: mapOf([A, B, C, A], [undefined, undefined, undefined, C]),
      local: local.source,
      fetch: peers.fetch,
    });

    await reads.list(USER, { limit: 10, partitions: [0, 3] }, context({ hop: 1 }));

    expect(local.listings).toEqual([{ limit: 10, partitions: [0] }]);
    expect(peers.sent.map((sent) => [sent.url, sent.headers[HOP_HEADER]])).toEqual([
      [`${C}/v1/users/${USER}/read-states?limit=10&partitions=3`, '2'],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const STATES: readonly PartitionState[] = ['not_owned', 'restoring', 'serving', 'handing_over'];

/** Partition count, each partition's state here, the map (owners, previous: -1 none, else a member index). */
const clusterShape = fc.integer({ min: 1, max: 6 }).chain((count) => {
  const perPartition = <T>(arbitrary: fc.Arbitrary<T>) =>
    fc.array(arbitrary, { minLength: count, maxLength: count });
  return fc.record({
    count: fc.constant(count),
    owners: perPartition(
      fc.oneof(
        { arbitrary: fc.constant(-1), weight: 1 },
        { arbitrary: fc.integer({ min: 0, max: MEMBERS.length - 1 }), weight: 5 },
      ),
    ),
    previous: perPartition(fc.integer({ min: -1, max: MEMBERS.length - 1 })),
    hasMap: fc.oneof(
      { arbitrary: fc.constant(true), weight: 5 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
    channels: fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }).map(String), {
      minLength: 1,
      maxLength: 12,
    }),
  });
});

type ClusterShape = typeof clusterShape extends fc.Arbitrary<infer T> ? T : never;

function mapFrom(shape: {
  count: number;
  owners: readonly number[];
  previous: readonly number[];
}): ClusterMap {
  return { v: 1, assignedAt: 0, members: MEMBERS, owners: [...shape.owners], previous: [...shape.previous] };
}

/**
 * The routing rule as the module's comment states it (without min_positions): where partition `p`'s part of a
 * request is answered, or the 503 code when nowhere.
 */
function expectedRoute(
  state: PartitionState,
  owner: string,
  previous: string,
  hop: number,
  self: string,
): { here: true } | { here: false; url: string; hop: '1' | '2' } | { refused: ApiErrorCode } {
  if (state === 'serving') return { here: true };
  if (hop === 0 && owner !== '' && owner !== self) return { here: false, url: owner, hop: '1' };
  // Handed over: answered only while the hand-over is under way (passed on by a peer, or the map names this one).
  if (state === 'handing_over' && (hop > 0 || owner === self)) return { here: true };
  if (hop <= 1 && state === 'restoring' && previous !== '' && previous !== self) {
    return { here: false, url: previous, hop: '2' };
  }
  return { refused: state === 'restoring' ? 'partition_restoring' : 'partition_not_owned' };
}

describe('routing properties (one instance, peers that answer)', () => {
  it('answers every channel once, here or by exactly one peer request, in the order asked; never sends a hop-2 request on, a hop-1 request only to a previous owner', async () => {
    await fc.assert(
      fc.asyncProperty(
        clusterShape,
        fc.array(fc.constantFrom(...STATES), { minLength: 6, maxLength: 6 }),
        fc.constantFrom(0, 1, 2),
        async (shape, states, hop) => {
          const map = shape.hasMap ? mapFrom(shape) : undefined;
          const local = fakeLocal();
          const peers = fakeFetch(answering({ count: shape.count }));
          const { reads, partitions } = router({
            partitionCount: shape.count,
            states: Object.fromEntries(states.slice(0, shape.count).map((state, p) => [p, state])),
            map,
            local: local.source,
            fetch: peers.fetch,
          });
          const asked = shape.channels;
          const partitionOfChannel = (channelId: Snowflake) => partitionOf(channelId, shape.count);
          const routeOf = (partition: number) =>
            expectedRoute(
              partitions.state(partition),
              map?.members[map.owners[partition] ?? -1] ?? '',
              map?.members[map.previous[partition] ?? -1] ?? '',
              hop,
              A,
            );

          const outcome = await reads.lookup(USER, asked, context({ hop })).then(
            (answer) => ({ answer }),
            (error: unknown) => ({ error }),
          );

          // Never sent on beyond two hops, nor to itself.
          if (hop === 2) expect(peers.sent).toEqual([]);
          if (hop === 1) expect(peers.sent.every((sent) => sent.headers[HOP_HEADER] === '2')).toBe(true);
          expect(peers.sent.every((sent) => !sent.url.startsWith(A))).toBe(true);

          const refusals = asked.flatMap((channelId) => {
            const route = routeOf(partitionOfChannel(channelId));
            return 'refused' in route ? [route.refused] : [];
          });
          if ('error' in outcome) {
            // Refused only when some partition has nowhere to go; then nothing was asked or read.
            expect(outcome.error).toBeInstanceOf(ApiError);
            expect(refusals).toContain((outcome.error as ApiError).code);
            expect(peers.sent).toEqual([]);
            expect(local.lookups).toEqual([]);
            return;
          }
          expect(refusals).toEqual([]);
          const { views, freshness } = outcome.answer;

          // Every channel answered once, in the order asked, where the rule says.
          expect(views.map((view) => view.channel_id)).toEqual(asked);
          const askedOf = [
            ...local.lookups.flat(),
            ...peers.sent.flatMap((sent) => sent.body?.channel_ids ?? []),
          ];
          expect(askedOf.toSorted()).toEqual(asked.toSorted());
          asked.forEach((channelId, index) => {
            const route = routeOf(partitionOfChannel(channelId));
            const view = views[index];
            if ('here' in route && route.here) {
              expect(view?.unread_count).toBe(HERE);
            } else if ('url' in route) {
              expect(view?.unread_count).toBe(markerOf(route.url));
              const request = peers.sent.find((sent) => sent.body?.channel_ids.includes(channelId));
              expect(request?.url).toBe(`${route.url}/v1/read-states/query`);
              expect(request?.headers[HOP_HEADER]).toBe(route.hop);
            }
          });
          // One local lookup at most, one request per instance and hop, each in the order asked.
          expect(local.lookups.length).toBeLessThanOrEqual(1);
          const groups = peers.sent.map((sent) => `${sent.headers[HOP_HEADER] ?? ''} ${sent.url}`);
          expect(new Set(groups).size).toBe(groups.length);
          for (const part of [...local.lookups, ...peers.sent.map((sent) => sent.body?.channel_ids ?? [])]) {
            const indexes = part.map((channelId) => asked.indexOf(channelId));
            expect(indexes).toEqual(indexes.toSorted((a, b) => a - b));
          }
          // Positions: exactly the partitions asked, ascending.
          const used = [...new Set(asked.map(partitionOfChannel))].sort((a, b) => a - b).map(String);
          expect(Object.keys(freshness?.positions ?? {})).toEqual(used);
          // Stale exactly when a partition answered here is one it is handing over (the peers say fresh).
          const handedOver = asked.some((channelId) => {
            const partition = partitionOfChannel(channelId);
            const route = routeOf(partition);
            return 'here' in route && route.here && partitions.state(partition) === 'handing_over';
          });
          expect(freshness?.stale).toBe(handedOver);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('routing properties (three instances behind their HTTP apps)', () => {
  /**
   * Each instance: its own partition states and a local source that, like readThrough.ts, refuses partitions it
   * does not serve or hand over (and records that it was asked: a router must never ask that of it). The
   * instances reach each other through `app.inject`; an AsyncLocalStorage holds the hop of the request each one is
   * answering, so that every request it sends can be checked against it.
   */
  const incomingHop = new AsyncLocalStorage<number>();
  let map: ClusterMap | undefined;
  let count = 1;
  let listed: Snowflake[] = [];
  const forwarded: { from: string; incoming: number | undefined; to: string; hop: string | undefined }[] = [];
  const refusedLocally: { at: string; hop: number | undefined; partition: number }[] = [];

  const instances = MEMBERS.map((url, index) => {
    const partitions = createPartitionStates();
    const partitionsOf = (channelIds: readonly Snowflake[]) =>
      channelIds.map((channelId) => partitionOf(channelId, count));
    const requireAnswerable = (partition: number) => {
      const state = partitions.state(partition);
      if (state === 'serving' || state === 'handing_over') return;
      refusedLocally.push({ at: url, hop: incomingHop.getStore(), partition });
      throw new ApiError(
        state === 'restoring' ? 'partition_restoring' : 'partition_not_owned',
        `partition ${partition} here`,
      );
    };
    const local: ReadStateSource = {
      lookup(_userId, channelIds) {
        partitionsOf(channelIds).forEach(requireAnswerable);
        return Promise.resolve(channelIds.map((channelId) => readState(channelId, index + 1)));
      },
      listChannels(_userId, options) {
        const wanted = options.partitions ?? Array.from({ length: count }, (_, p) => p);
        wanted.forEach(requireAnswerable);
        return Promise.resolve(
          listed
            .filter((channelId) => wanted.includes(partitionOf(channelId, count)))
            .filter(
              (channelId) => options.after === undefined || compareSnowflakes(channelId, options.after) > 0,
            )
            .toSorted(compareSnowflakes)
            .slice(0, options.limit),
        );
      },
    };
    const send = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const target = new URL(urlOf(input));
      const headers = { ...(init?.headers as Record<string, string>) };
      forwarded.push({
        from: url,
        incoming: incomingHop.getStore(),
        to: target.origin,
        hop: headers[HOP_HEADER],
      });
      const app = apps.get(target.origin);
      if (app === undefined) throw new TypeError(`fetch failed: no instance at ${target.origin}`);
      const reply = await app.inject({
        method: init?.method === 'POST' ? 'POST' : 'GET',
        url: target.pathname + target.search,
        headers,
        ...(typeof init?.body === 'string' ? { payload: init.body } : {}),
      });
      return new Response(reply.body, {
        status: reply.statusCode,
        headers: Object.entries(reply.headers).flatMap(([name, value]) =>
          value === undefined ? [] : [[name, String(value)] as [string, string]],
        ),
      });
    };
    const inner = clusterReads({
      self: url,
      map: () => map,
      partitions,
      get partitionCount() {
        return count;
      },
      partitionsOf,
      local,
      freshness: freshnessOf(partitions, partitionsOf),
      fetch: send,
    });
    const reads: Reads = {
      lookup: (userId, channelIds, lookupContext) =>
        incomingHop.run(lookupContext.hop, () => inner.lookup(userId, channelIds, lookupContext)),
      list: (userId, page, lookupContext) =>
        incomingHop.run(lookupContext.hop, () => inner.list(userId, page, lookupContext)),
    };
    const app = buildApp({
      logger: createLogger('silent'),
      readStates: local,
      reads,
      notReadyReason: () => undefined,
    });
    return { url, index, partitions, app };
  });
  const apps = new Map<string, App>(instances.map(({ url, app }) => [url, app]));

  /**
   * Per partition, each instance's state: either what a cluster goes through (the owner serving or restoring, or
   * all handing over while a rebalance begins; the previous owner handing over or done; the others not owning
   * it), or anything at all, as states and maps seen at different moments may be.
   */
  const statesFor = (shape: ClusterShape, partition: number): fc.Arbitrary<PartitionState[]> => {
    const owner = shape.owners[partition] ?? -1;
    const previous = shape.previous[partition] ?? -1;
    const coherent = fc
      .record({
        owner: fc.constantFrom<PartitionState>('serving', 'serving', 'restoring', 'handing_over'),
        previous: fc.constantFrom<PartitionState>('handing_over', 'not_owned'),
      })
      .map((at) =>
        MEMBERS.map((_, member): PartitionState =>
          member === owner ? at.owner : member === previous ? at.previous : 'not_owned',
        ),
      );
    const anything = fc.array(fc.constantFrom(...STATES), {
      minLength: MEMBERS.length,
      maxLength: MEMBERS.length,
    });
    return fc.oneof({ arbitrary: coherent, weight: 3 }, { arbitrary: anything, weight: 1 });
  };

  const scenario = clusterShape.chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      // [partition][member]
      states: fc.tuple(...Array.from({ length: shape.count }, (_, partition) => statesFor(shape, partition))),
      asked: fc.nat(MEMBERS.length - 1),
      limit: fc.integer({ min: 1, max: 14 }),
      cursor: fc.option(fc.integer({ min: 1, max: 100_000 }).map(String), { nil: undefined }),
    }),
  );

  function setUp({ shape, states }: { shape: ClusterShape; states: readonly (readonly PartitionState[])[] }) {
    count = shape.count;
    map = shape.hasMap ? mapFrom(shape) : undefined;
    listed = shape.channels;
    forwarded.length = 0;
    refusedLocally.length = 0;
    instances.forEach(({ partitions }, member) => {
      for (let partition = 0; partition < shape.count; partition++) {
        setState(partitions, partition, states[partition]?.[member] ?? 'not_owned');
        // Where each instance stands tells who answered: member m, partition p at 1000 * (m + 1) + p.
        partitions.setPosition(partition, 'messages', BigInt(1000 * (member + 1) + partition));
      }
    });
  }

  const stateAt = (member: number, partition: number): PartitionState =>
    instances[member]?.partitions.state(partition) ?? 'not_owned';
  const answerable = (member: number, partition: number) =>
    ['serving', 'handing_over'].includes(stateAt(member, partition));

  function expectNoLoops(): void {
    for (const request of forwarded) {
      expect(request.to).not.toBe(request.from);
      if (request.incoming === 2) expect.fail(`a hop-2 request was sent on by ${request.from}`);
      if (request.incoming === 1) expect(request.hop).toBe('2');
      expect(['1', '2']).toContain(request.hop);
    }
  }

  function expectRefusal(reply: {
    statusCode: number;
    headers: Record<string, unknown>;
    json(): unknown;
  }): void {
    expect(reply.statusCode).toBe(503);
    const { error } = reply.json() as { error: { code: ApiErrorCode } };
    expect(API_ERRORS[error.code]).toBe(503);
    expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  }

  it('a lookup at any instance is exact (answered where the partition is served or handed over) or a 503; available whenever the owner, or the previous owner while the owner restores, can answer', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (run) => {
        setUp(run);
        const { shape } = run;
        const asked = shape.channels;
        const at = instances[run.asked];
        if (at === undefined) throw new Error('no such instance');

        const reply = await at.app.inject({
          method: 'POST',
          url: '/v1/read-states/query',
          payload: { user_id: USER, channel_ids: asked },
        });

        expectNoLoops();
        // The router reads here only what this instance serves or hands over, at any hop.
        expect(refusedLocally).toEqual([]);
        const used = [...new Set(asked.map((channelId) => partitionOf(channelId, shape.count)))];
        const ownerCanAnswer = (partition: number) => {
          const owner = map?.owners[partition] ?? -1;
          const previous = map?.previous[partition] ?? -1;
          if (stateAt(run.asked, partition) === 'serving') return true;
          if (stateAt(run.asked, partition) === 'handing_over' && owner === run.asked) return true;
          if (owner === -1) return false;
          if (answerable(owner, partition)) return true;
          return (
            stateAt(owner, partition) === 'restoring' &&
            previous !== -1 &&
            previous !== owner &&
            answerable(previous, partition)
          );
        };
        if (used.every(ownerCanAnswer)) expect(reply.statusCode).toBe(200);
        if (reply.statusCode !== 200) {
          expectRefusal(reply);
          return;
        }
        const body = reply.json<{
          read_states: AnsweredReadState[];
          positions: Record<string, { messages: string; acks: string }>;
          stale: boolean;
        }>();
        expect(body.read_states.map((view) => view.channel_id)).toEqual(asked);
        let stale = false;
        body.read_states.forEach((view) => {
          const partition = partitionOf(view.channel_id, shape.count);
          const member = view.unread_count - 1;
          // Answered by an instance that serves or hands over the partition, with that instance's position.
          expect(answerable(member, partition)).toBe(true);
          expect(body.positions[partition]?.messages).toBe(String(1000 * (member + 1) + partition));
          stale ||= stateAt(member, partition) === 'handing_over';
        });
        expect(Object.keys(body.positions)).toEqual(used.toSorted((a, b) => a - b).map(String));
        expect(body.stale).toBe(stale);
      }),
      { numRuns: 200 },
    );
  });

  it('a listing at any instance is the merged page of every partition (from instances that serve or hand them over) or a 503; available whenever every owner serves', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (run) => {
        setUp(run);
        const { shape, limit, cursor } = run;
        const at = instances[run.asked];
        if (at === undefined) throw new Error('no such instance');

        const reply = await at.app.inject({
          method: 'GET',
          url: `/v1/users/${USER}/read-states?limit=${limit}${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        });

        expectNoLoops();
        // The router reads here only what this instance serves or hands over, at any hop.
        expect(refusedLocally).toEqual([]);
        const partitions = Array.from({ length: shape.count }, (_, p) => p);
        const everyOwnerServes = partitions.every((p) => {
          const owner = map?.owners[p] ?? -1;
          return stateAt(run.asked, p) === 'serving' || (owner !== -1 && stateAt(owner, p) === 'serving');
        });
        if (everyOwnerServes) expect(reply.statusCode).toBe(200);
        if (reply.statusCode !== 200) {
          expectRefusal(reply);
          return;
        }
        const body = reply.json<{
          read_states: AnsweredReadState[];
          positions: Record<string, unknown>;
          next_cursor: string | null;
        }>();
        const expected = shape.channels
          .filter((channelId) => cursor === undefined || compareSnowflakes(channelId, cursor) > 0)
          .toSorted(compareSnowflakes)
          .slice(0, limit);
        expect(body.read_states.map((view) => view.channel_id)).toEqual(expected);
        for (const view of body.read_states) {
          expect(answerable(view.unread_count - 1, partitionOf(view.channel_id, shape.count))).toBe(true);
        }
        expect(Object.keys(body.positions)).toEqual(partitions.map(String));
      }),
      { numRuns: 200 },
    );
  });
});
