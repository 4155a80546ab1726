/**
 * What the fault tests and the soak share: their own topics, consumer group, database and DATA_DIR on real
 * Kafka and PostgreSQL; a seeded chat stream published through the publisher SDK with hostile records
 * (test/support/hostileRecords.ts) mixed in through a raw producer; the reference model fed with exactly the
 * valid events, in each partition's order; and checks of the running service against both, returned as
 * lists of problems rather than thrown, so the soak (a plain Node script, no vitest) can count them.
 */
import { randomBytes } from 'node:crypto';
import pg from '@databases/pg';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import type { AckEvent, MessageEvent } from '../../../src/contract/events.ts';
import type { Snowflake } from '../../../src/contract/snowflake.ts';
import { createTopicsAndWait } from '../../../src/ingest/createTopicsAndWait.ts';
import { createDatabasePool, type ConnectionPool } from '../../../src/ops/database.ts';
import { createDemoStream, type DemoEvent } from '../../../src/ops/demoStream.ts';
import { seededRandom } from '../../../src/ops/seededRandom.ts';
import {
  createPublisher,
  type Publisher,
  type WrittenPositions,
} from '../../../src/publisher/createPublisher.ts';
import {
  createHostileRecords,
  homePartition,
  type HostileContext,
  type HostileKind,
  type HostileRecord,
} from '../../support/hostileRecords.ts';
import { uniqueName } from '../../support/names.ts';
import { createReferenceModel, type ReferenceModel } from '../../support/referenceModel.ts';
import { trackResource } from '../../support/resources.ts';
import { temporaryRocksDir } from '../../support/rocks.ts';
import { waitFor } from '../../support/waitFor.ts';
import { prefixViews, viewKey, type WireView } from './prefixViews.ts';

export interface FaultHarnessOptions {
  /** Names topics, group, database and logs. */
  name: string;
  brokers: readonly string[];
  /** A PostgreSQL server URL whose user may create databases. */
  postgresUrl: string;
  seed: number;
  channels: number;
  users: number;
  partitions?: number;
}

/** A hostile record as sent, and where it landed. */
export interface SentHostile {
  record: HostileRecord;
  topic: string;
  offset: string;
}

export interface LookupAnswer {
  /** 0 when no HTTP answer came at all (connection refused or reset, timeout). */
  status: number;
  retryAfter: string | null;
  views: WireView[];
  error?: string;
}

/** A partition the service has not consumed to the end (by its committed offset). */
export interface Lagging {
  topic: string;
  partition: number;
  committed: bigint;
  end: bigint;
  /** The kind of the hostile record at the committed offset: the one the partition waits on. */
  stuckOn?: HostileKind;
}

function describeLagging(l: Lagging): string {
  return (
    `${l.topic}/${l.partition}: committed ${l.committed}, end ${l.end}` +
    (l.stuckOn === undefined ? '' : ` (next is a hostile ${l.stuckOn} record)`)
  );
}

export interface DeadLetterAudit {
  /** Hostile records that must be dead letters. */
  expected: number;
  /** Of those, how many are in the table. */
  found: number;
  /** Rows beyond the first for one record. */
  duplicates: number;
  missing: string[];
  wrongCode: string[];
  wrongBytes: string[];
  /** Rows for records that must have been applied (valid events, valid oddities). */
  unexpected: string[];
  /** Every problem above, one line each; empty when the dead letters are exactly right. */
  problems: string[];
}

type Position = `${string}/${number}@${string}`;
const positionOf = (topic: string, partition: number, offset: string | bigint): Position =>
  `${topic}/${partition}@${offset.toString()}`;

export type FaultHarness = Awaited<ReturnType<typeof createFaultHarness>>;

export async function createFaultHarness(options: FaultHarnessOptions) {
  const partitions = options.partitions ?? 4;
  const brokers = [...options.brokers];
  const kafka = new Kafka({
    brokers,
    clientId: uniqueName(`fault-${options.name}`),
    logLevel: logLevel.NOTHING,
  });
  const topics = {
    messages: uniqueName(`${options.name}.messages`),
    acks: uniqueName(`${options.name}.acks`),
  };
  const groupId = uniqueName(`${options.name}-projector`);

  const tracked: (() => Promise<void>)[] = [];
  const admin: Admin = kafka.admin();
  await admin.connect();
  tracked.push(
    track('kafka client', `${options.name} admin`, async () => {
      // The shared broker outlives the run: leave it no topics (best effort; a broker that is down keeps them).
      await admin
        .deleteTopics({ topics: [topics.messages, topics.acks], timeout: 10_000 })
        .catch(() => undefined);
      await admin.disconnect();
    }),
  );
  await createTopicsAndWait(
    admin,
    [topics.messages, topics.acks].map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor: 1,
    })),
  );
  const publisher: Publisher = createPublisher({ kafka, topics });
  await publisher.connect();
  tracked.push(track('kafka client', `${options.name} publisher`, () => publisher.disconnect()));
  // Idempotent, so a produce retry cannot store a hostile record twice (each must be dead-lettered once).
  const raw: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await raw.connect();
  tracked.push(track('kafka client', `${options.name} raw producer`, () => raw.disconnect()));

  const database = await createDatabase(options.postgresUrl, options.name);
  tracked.push(track('database pool', database.name, () => database.drop()));
  const dataDir = await temporaryRocksDir();
  const token = randomBytes(24).toString('hex');

  const model: ReferenceModel = createReferenceModel();
  const stream = createDemoStream({ seed: options.seed, channels: options.channels, users: options.users });
  const hostile = createHostileRecords({ seed: options.seed + 1, partitions });
  const pick = (() => {
    const uint32 = seededRandom(options.seed + 2);
    return (n: number) => Math.floor((uint32() / 4294967296) * n);
  })();
  const history = new Map<Snowflake, { messages: MessageEvent[]; acks: AckEvent[] }>();
  const users = new Set<Snowflake>();
  const lastUserIn = new Map<Snowflake, Snowflake>();
  const hostileSent: SentHostile[] = [];
  let validPublished = 0;
  const writtenSoFar: WrittenPositions = {};
  let hostileDue = 0;

  const env: Record<string, string> = {
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_GROUP_ID: groupId,
    TOPIC_MESSAGES: topics.messages,
    TOPIC_ACKS: topics.acks,
    DATA_DIR: dataDir.path,
    DATABASE_URL: database.url,
    API_TOKENS: token,
    // A killed or stopped member holds its partitions until its session expires: short, so restarts are quick.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
  };
  const auth = { authorization: `Bearer ${token}` };

  function historyOf(channel: Snowflake) {
    let entry = history.get(channel);
    if (entry === undefined) {
      entry = { messages: [], acks: [] };
      history.set(channel, entry);
    }
    return entry;
  }

  /** Feeds the model and the per-partition history with an event the service must apply. */
  function applied(event: DemoEvent): void {
    model.apply(event);
    const entry = historyOf(event.channel_id);
    if (event.type === 'member_joined' || event.type === 'member_left') {
      entry.acks.push(event);
      users.add(event.user_id);
    } else if (event.type === 'message_acked') {
      entry.acks.push(event);
      users.add(event.user_id);
      lastUserIn.set(event.channel_id, event.user_id);
    } else {
      entry.messages.push(event);
      if (event.type === 'message_sent') {
        users.add(event.author_id);
        event.mention_user_ids.forEach((user) => users.add(user));
        lastUserIn.set(event.channel_id, event.author_id);
      } else if (event.type === 'message_edited') {
        event.mention_user_ids.forEach((user) => users.add(user));
      }
    }
  }

  function contextOf(event: DemoEvent): HostileContext {
    if (event.type === 'member_joined' || event.type === 'member_left') {
      const latest = historyOf(event.channel_id).messages.at(-1);
      return { channel: event.channel_id, user: event.user_id, messageId: latest?.message_id ?? '1' };
    }
    return {
      channel: event.channel_id,
      user:
        event.type === 'message_acked'
          ? event.user_id
          : event.type === 'message_sent'
            ? event.author_id
            : (lastUserIn.get(event.channel_id) ?? event.message_id),
      messageId: event.message_id,
    };
  }

  async function send(record: HostileRecord): Promise<SentHostile> {
    const topic = topics[record.topic];
    const [metadata] = await raw.send({
      topic,
      messages: [
        { key: record.key, value: record.value, headers: record.headers, partition: record.partition },
      ],
    });
    const offset = metadata?.baseOffset;
    if (offset === undefined) throw new Error(`no produce answer for a ${record.kind} record`);
    const sent = { record, topic, offset };
    hostileSent.push(sent);
    if (record.expected === 'valid' && record.event !== undefined) applied(record.event);
    return sent;
  }

  /** Committed offsets by `topic/partition` (-1: nothing committed). */
  async function committed(): Promise<Map<string, bigint>> {
    const result = new Map<string, bigint>();
    for (const topic of [topics.messages, topics.acks]) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const p of offsets?.partitions ?? []) result.set(`${topic}/${p.partition}`, BigInt(p.offset));
    }
    return result;
  }

  /** Partitions whose committed offset is below the end, with the hostile record (if any) at that offset. */
  async function behind(): Promise<Lagging[]> {
    const done = await committed();
    const lagging: Lagging[] = [];
    for (const topic of [topics.messages, topics.acks]) {
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const at = done.get(`${topic}/${end.partition}`) ?? -1n;
        if (BigInt(end.high) > 0n && at < BigInt(end.high)) {
          const stuckOn = hostileSent.find(
            (h) => h.topic === topic && h.record.partition === end.partition && BigInt(h.offset) === at,
          );
          lagging.push({
            topic,
            partition: end.partition,
            committed: at,
            end: BigInt(end.high),
            ...(stuckOn === undefined ? {} : { stuckOn: stuckOn.record.kind }),
          });
        }
      }
    }
    return lagging;
  }

  /** POST /v1/read-states/query as a client: never throws; no HTTP answer at all is status 0. */
  async function lookup(
    url: string,
    user: Snowflake,
    channels: readonly Snowflake[],
    timeoutMs = 5_000,
  ): Promise<LookupAnswer> {
    try {
      const response = await fetch(`${url}/v1/read-states/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ user_id: user, channel_ids: channels }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await response.json().catch(() => ({}))) as { read_states?: WireView[] };
      return {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        views: response.status === 200 ? (body.read_states ?? []) : [],
      };
    } catch (error) {
      return { status: 0, retryAfter: null, views: [], error: (error as Error).message };
    }
  }

  const acceptableMemo = new Map<string, { length: number; views: Set<string> }>();
  /** Whether `view` is the read state after some prefix of the channel's history (prefixViews.ts). */
  function acceptable(user: Snowflake, view: WireView): boolean {
    const entry = history.get(view.channel_id) ?? { messages: [], acks: [] };
    const length = entry.messages.length + entry.acks.length;
    const id = `${user}/${view.channel_id}`;
    let known = acceptableMemo.get(id);
    if (known?.length !== length) {
      known = { length, views: prefixViews(user, view.channel_id, entry.messages, entry.acks) };
      acceptableMemo.set(id, known);
    }
    return known.views.has(viewKey(view));
  }

  /**
   * Every (user, channel) the stream touched, as the service answers it, against the reference model; and
   * each user's listed channels. Returns the differences (at most `limit` lines) and how many were compared.
   */
  async function compareWithModel(
    url: string,
    options: { limit?: number; channels?: readonly Snowflake[] } = {},
  ): Promise<{ compared: number; mismatches: string[] }> {
    const limit = options.limit ?? 20;
    const channels = options.channels ?? [...history.keys()];
    const mismatches: string[] = [];
    let compared = 0;
    for (const user of users) {
      const answer = await lookup(url, user, channels, 30_000);
      if (answer.status !== 200) {
        mismatches.push(
          `user ${user}: status ${answer.status}${answer.error === undefined ? '' : ` (${answer.error})`}`,
        );
        continue;
      }
      channels.forEach((channel, i) => {
        const modelView = model.readState(user, channel);
        const expected = viewKey({ ...modelView, channel_id: channel });
        const got = answer.views[i];
        compared++;
        if (got === undefined || viewKey(got) !== expected)
          mismatches.push(
            `user ${user} channel ${channel}: got ${got === undefined ? 'nothing' : viewKey(got)}, model ${expected}`,
          );
        else if (got.first_unread_message_id !== modelView.first_unread_message_id)
          mismatches.push(
            `user ${user} channel ${channel}: first unread ${String(got.first_unread_message_id)}, model ${String(modelView.first_unread_message_id)}`,
          );
      });
      // Listing shows every channel: compared only when all are.
      if (options.channels !== undefined) continue;
      const listed: string[] = [];
      let cursor: string | null = null;
      do {
        const response = await fetch(
          `${url}/v1/users/${user}/read-states?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`,
          { headers: auth },
        );
        const page = (await response.json()) as {
          read_states?: { channel_id: string }[];
          next_cursor?: string | null;
        };
        listed.push(...(page.read_states ?? []).map((state) => state.channel_id));
        cursor = page.next_cursor ?? null;
      } while (cursor !== null);
      const expectedList = model.readStatesOf(user).map((v) => v.channel_id);
      compared++;
      if (JSON.stringify(listed) !== JSON.stringify(expectedList))
        mismatches.push(
          `user ${user}: lists ${JSON.stringify(listed)}, model ${JSON.stringify(expectedList)}`,
        );
    }
    const shown = mismatches.slice(0, limit);
    if (mismatches.length > limit) shown.push(`… and ${mismatches.length - limit} more`);
    return { compared, mismatches: shown };
  }

  return {
    env,
    auth,
    topics,
    groupId,
    partitions,
    model,
    hostileSent,
    dataDir: dataDir.path,
    databaseUrl: database.url,
    /** The partition a channel's events are produced to (kafkajs's DefaultPartitioner). */
    homeOf: (channel: Snowflake) => homePartition(channel, partitions),
    published: () => ({ valid: validPublished, hostile: hostileSent.length }),
    /** Per partition, the offsets after everything published through the SDK so far (for min_positions). */
    positions: (): WrittenPositions => structuredClone(writtenSoFar),

    /**
     * Publishes `count` stream events in batches through the publisher SDK; after each batch, hostile records
     * so that they make `hostileRate` of everything sent (each kind in turn, in a seeded order), built on ids
     * from that batch. `onlyPartitions` keeps hostile records to channels of those partitions.
     */
    async publish(
      count: number,
      publishOptions: {
        batch?: number;
        hostileRate?: number;
        kinds?: readonly HostileKind[];
        onlyPartitions?: readonly number[];
      } = {},
    ): Promise<WrittenPositions> {
      const written: WrittenPositions = {};
      const batchSize = publishOptions.batch ?? 200;
      const rate = publishOptions.hostileRate ?? 0;
      const kinds = publishOptions.kinds;
      for (let done = 0; done < count; done += batchSize) {
        const events: DemoEvent[] = [];
        for (let i = 0; i < Math.min(batchSize, count - done); i++) events.push(stream.next());
        const { positions } = await publisher.publishBatch(events);
        for (const [partition, at] of Object.entries(positions)) {
          written[partition] = { ...written[partition], ...at };
          writtenSoFar[partition] = { ...writtenSoFar[partition], ...at };
        }
        events.forEach(applied);
        validPublished += events.length;
        // hostile / (valid + hostile) = rate
        hostileDue += (events.length * rate) / (1 - rate);
        const candidates =
          publishOptions.onlyPartitions === undefined
            ? events
            : events.filter((e) =>
                publishOptions.onlyPartitions?.includes(homePartition(e.channel_id, partitions)),
              );
        while (hostileDue >= 1 && candidates.length > 0) {
          hostileDue -= 1;
          const ctx = contextOf(candidates[pick(candidates.length)] as DemoEvent);
          const record =
            kinds === undefined
              ? hostile.next(ctx)
              : hostile.build(kinds[pick(kinds.length)] as HostileKind, ctx);
          await send(record);
        }
      }
      return written;
    },
    /** Sends one hostile record of `kind` about `channel`, a channel the stream has already used. */
    async publishHostile(kind: HostileKind, channel: Snowflake): Promise<SentHostile> {
      const entry = historyOf(channel);
      const last = entry.messages.at(-1) ?? entry.acks.at(-1);
      if (last === undefined) throw new Error(`publish events of channel ${channel} before hostile ones`);
      return send(hostile.build(kind, contextOf(last)));
    },

    /** Records the service has durably applied (and committed) so far, over both topics. */
    async appliedSoFar(): Promise<bigint> {
      let total = 0n;
      for (const offset of (await committed()).values()) if (offset > 0n) total += offset;
      return total;
    },
    /** Until the service has committed every record published; on time-out, says which partitions are behind. */
    async caughtUp(timeoutMs = 120_000): Promise<void> {
      try {
        await waitFor(
          async () => (await behind()).length === 0,
          timeoutMs,
          'the service to consume everything',
        );
      } catch (error) {
        throw new Error(
          `the service did not consume everything within ${timeoutMs} ms:\n  ${(await behind()).map(describeLagging).join('\n  ')}`,
          { cause: error },
        );
      }
    },

    /** Until /readyz answers 200 (ready), as a client would wait before trusting lookups. */
    async waitReady(url: string, timeoutMs = 60_000): Promise<void> {
      await waitFor(
        async () => (await fetch(`${url}/readyz`, { headers: auth })).ok,
        timeoutMs,
        `the service at ${url} to be ready`,
      );
    },
    /** Partitions not consumed to the end yet. */
    lagging: behind,
    /** Users and channels the stream touched. */
    touched: () => ({ users: [...users], channels: [...history.keys()] }),
    /** Channels whose events go to one of `partitionIds`. */
    channelsOn: (partitionIds: readonly number[]) =>
      [...history.keys()].filter((c) => partitionIds.includes(homePartition(c, partitions))),

    lookup,
    acceptable,
    compareWithModel,
    /** Counts every mismatch (the soak's figure), not only the first lines. */
    async countMismatches(url: string): Promise<{ compared: number; mismatches: number; first: string[] }> {
      const result = await compareWithModel(url, { limit: Number.MAX_SAFE_INTEGER });
      return {
        compared: result.compared,
        mismatches: result.mismatches.length,
        first: result.mismatches.slice(0, 20),
      };
    },

    /** The dead_letters table against the hostile records sent: each refused one exactly once, as sent. */
    async auditDeadLetters(): Promise<DeadLetterAudit> {
      const rows = (await database.pool.query(pg.sql`SELECT * FROM dead_letters`)) as DbRow[];
      const byPosition = new Map<Position, DbRow[]>();
      for (const row of rows) {
        const at = positionOf(row.topic, row.partition, row.offset);
        byPosition.set(at, [...(byPosition.get(at) ?? []), row]);
      }
      const audit: DeadLetterAudit = {
        expected: 0,
        found: 0,
        duplicates: 0,
        missing: [],
        wrongCode: [],
        wrongBytes: [],
        unexpected: [],
        problems: [],
      };
      const accounted = new Set<Position>();
      for (const { record, topic, offset } of hostileSent) {
        const at = positionOf(topic, record.partition, offset);
        const found = byPosition.get(at) ?? [];
        const what = `${record.kind} at ${at}`;
        if (record.expected === 'valid') continue;
        accounted.add(at);
        audit.expected++;
        const [row] = found;
        if (row === undefined) {
          audit.missing.push(`${what}: no dead letter (expected ${record.expected})`);
          continue;
        }
        audit.found++;
        audit.duplicates += found.length - 1;
        const code = row.error_code ?? row.code;
        if (code !== record.expected)
          audit.wrongCode.push(`${what}: code ${String(code)}, expected ${record.expected}`);
        const differences = [
          sameBytes(row.key, record.key) ? undefined : 'key',
          sameBytes(row.value, record.value) ? undefined : 'value',
          sameHeaders(row, record.headers) ? undefined : 'headers',
        ].filter((d) => d !== undefined);
        if (differences.length > 0)
          audit.wrongBytes.push(`${what}: ${differences.join(', ')} differ from what was sent`);
      }
      for (const [at, found] of byPosition) {
        if (accounted.has(at)) continue;
        const sent = hostileSent.find((h) => positionOf(h.topic, h.record.partition, h.offset) === at);
        audit.unexpected.push(
          `${at}: dead letter ${String(found[0]?.error_code ?? found[0]?.code)} for ${sent === undefined ? 'a valid stream event' : `a valid ${sent.record.kind} record`}`,
        );
      }
      audit.problems = [
        ...audit.missing,
        ...(audit.duplicates > 0 ? [`${audit.duplicates} duplicate dead letters`] : []),
        ...audit.wrongCode,
        ...audit.wrongBytes,
        ...audit.unexpected,
      ];
      return audit;
    },
    /** Names of the hostile kinds sent so far, with how many of each. */
    kindsSent(): Map<HostileKind, number> {
      const counts = new Map<HostileKind, number>();
      for (const { record } of hostileSent) counts.set(record.kind, (counts.get(record.kind) ?? 0) + 1);
      return counts;
    },

    async close(): Promise<void> {
      const errors: unknown[] = [];
      for (const close of tracked.reverse()) await close().catch((error: unknown) => errors.push(error));
      await dataDir.remove();
      if (errors.length > 0) throw new AggregateError(errors, 'closing the fault harness failed');
    },
  };
}

/** A dead_letters row, whatever migrations it has had (header bytes since 00003). */
interface DbRow {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  error_code?: string;
  code?: string;
  header_names?: Buffer[];
  header_values?: (Buffer | null)[];
}

function sameBytes(stored: Buffer | null, sent: Buffer | null): boolean {
  if (stored === null || sent === null) return stored === sent;
  return Buffer.compare(stored, sent) === 0;
}

/** Headers as name/value byte pairs in the order sent; unchecked for a table without header bytes (before 00003). */
function sameHeaders(row: DbRow, sent: HostileRecord['headers']): boolean {
  if (row.header_names === undefined || row.header_values === undefined) return true;
  const expected = Object.entries(sent).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map(
      (v) => `${Buffer.from(name).toString('hex')}=${v.toString('hex')}`,
    ),
  );
  const stored = row.header_names.map(
    (name, i) => `${name.toString('hex')}=${row.header_values?.[i]?.toString('hex') ?? 'null'}`,
  );
  return JSON.stringify(stored) === JSON.stringify(expected);
}

function track(kind: Parameters<typeof trackResource>[0], name: string, close: () => Promise<void>) {
  const release = trackResource(kind, name);
  return async () => {
    await close();
    release();
  };
}

/** An empty database of the test's own on `serverUrl` (as test/support/postgres.ts, without vitest's inject). */
async function createDatabase(
  serverUrl: string,
  name: string,
): Promise<{ name: string; url: string; pool: ConnectionPool; drop: () => Promise<void> }> {
  const database = uniqueName(`readstates_${name.toLowerCase().replace(/[^a-z0-9]/g, '_')}`);
  const admin = createDatabasePool(serverUrl, { poolSize: 1 });
  try {
    await admin.query(pg.sql`CREATE DATABASE ${pg.sql.ident(database)}`);
  } finally {
    await admin.dispose();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  const pool = createDatabasePool(url.href, { poolSize: 2 });
  return {
    name: database,
    url: url.href,
    pool,
    async drop() {
      await pool.dispose();
      const dropper = createDatabasePool(serverUrl, { poolSize: 1 });
      try {
        await dropper.query(pg.sql`DROP DATABASE IF EXISTS ${pg.sql.ident(database)} WITH (FORCE)`);
      } finally {
        await dropper.dispose();
      }
    },
  };
}
