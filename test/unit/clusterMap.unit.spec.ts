/**
 * What members tell each other through the group protocol (src/ingest/clusterMap.ts) and the assigner that
 * carries it (src/ingest/coPartitionedAssigner.ts), through kafkajs's own encoders: claims in subscriptions, one
 * map of every partition's owner in every assignment.
 */
import fc from 'fast-check';
import {
  AssignerProtocol,
  type Cluster,
  type GroupMember,
  type Logger,
  type PartitionMetadata,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  clusterMapSchema,
  decodeClaim,
  decodeClusterMap,
  encodeClaim,
  encodeClusterMap,
  ownerUrl,
  previousUrl,
  type Claim,
  type ClusterMap,
} from '../../src/ingest/clusterMap.ts';
import { createCoPartitionedAssigner } from '../../src/ingest/coPartitionedAssigner.ts';

const MESSAGES = 'readstates.messages';
const ACKS = 'readstates.acks';
const EMPTY_CLAIM: Claim = { v: 1, url: '', owned: [], held: [] };

/** A claim as a member's subscription carries it, read back as the leader reads it. */
function throughSubscription(userData: Buffer): Claim {
  const metadata = AssignerProtocol.MemberMetadata.encode({ version: 1, topics: [MESSAGES, ACKS], userData });
  return decodeClaim(AssignerProtocol.MemberMetadata.decode(metadata)?.userData);
}

/** A map as an assignment carries it, read back as a member reads it. */
function throughAssignment(userData: Buffer): ClusterMap | undefined {
  const assignment = AssignerProtocol.MemberAssignment.encode({
    version: 1,
    assignment: { [MESSAGES]: [0] },
    userData,
  });
  return decodeClusterMap(AssignerProtocol.MemberAssignment.decode(assignment)?.userData);
}

const sampleMap: ClusterMap = {
  v: 1,
  assignedAt: 1_750_000_000_000,
  members: ['http://a:8080', 'http://b:8080', 'http://c:8080'],
  owners: [0, 1, 2, -1, 0],
  previous: [-1, 0, -1, -1, 2],
};

/** Where a member may be reached: '' (nowhere) or a plain http(s) origin. */
const memberUrl = fc.oneof(
  { arbitrary: fc.constant(''), weight: 1 },
  {
    arbitrary: fc
      .record({
        scheme: fc.constantFrom('http', 'https'),
        host: fc.oneof(fc.domain(), fc.ipV4()),
        port: fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
      })
      .map(({ scheme, host, port }) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}`),
    weight: 5,
  },
);

/** Bytes that are not ours: other JSON, other versions, wrong types, binary, not UTF-8. */
const notOurs: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['not JSON', Buffer.from('readstates')],
  ['binary', Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x7b])],
  ['JSON null', Buffer.from('null')],
  ['a JSON array', Buffer.from('[1,2,3]')],
  ['a JSON number', Buffer.from('42')],
  ['another version', Buffer.from(JSON.stringify({ v: 2, url: 'http://a', owned: [], held: [] }))],
  ['no version', Buffer.from(JSON.stringify({ url: 'http://a', owned: [], held: [] }))],
  ['a negative partition', Buffer.from(JSON.stringify({ v: 1, url: 'http://a', owned: [-1], held: [] }))],
  ['a fractional partition', Buffer.from(JSON.stringify({ v: 1, url: 'http://a', owned: [0.5], held: [] }))],
  ['partitions as strings', Buffer.from(JSON.stringify({ v: 1, url: 'http://a', owned: ['1'], held: [] }))],
  ['a URL that is not a string', Buffer.from(JSON.stringify({ v: 1, url: 7, owned: [], held: [] }))],
  [
    'a URL too long',
    Buffer.from(JSON.stringify({ v: 1, url: `http://${'x'.repeat(2_040)}.example`, owned: [], held: [] })),
  ],
  [
    'a URL that is not one',
    Buffer.from(JSON.stringify({ v: 1, url: 'readstates-1:8080', owned: [], held: [] })),
  ],
  [
    'a URL with credentials',
    Buffer.from(JSON.stringify({ v: 1, url: 'http://user:pass@readstates-1:8080', owned: [], held: [] })),
  ],
  [
    'a URL with a path',
    Buffer.from(JSON.stringify({ v: 1, url: 'http://readstates-1:8080/v1', owned: [], held: [] })),
  ],
  [
    'a URL with a trailing slash',
    Buffer.from(JSON.stringify({ v: 1, url: 'http://readstates-1:8080/', owned: [], held: [] })),
  ],
  [
    'a URL with a query',
    Buffer.from(JSON.stringify({ v: 1, url: 'http://readstates-1:8080?x=1', owned: [], held: [] })),
  ],
  [
    'a URL with a fragment',
    Buffer.from(JSON.stringify({ v: 1, url: 'http://readstates-1:8080#x', owned: [], held: [] })),
  ],
  [
    'a URL of another scheme',
    Buffer.from(JSON.stringify({ v: 1, url: 'file:///etc/passwd', owned: [], held: [] })),
  ],
  ['a truncated claim', encodeClaim({ url: 'http://a', owned: [1], held: [] }).subarray(0, 20)],
  ['a map where a claim is expected', encodeClusterMap(sampleMap)],
];

describe('claims', () => {
  it('round-trip through a subscription (kafkajs MemberMetadata)', () => {
    const claim = { url: 'http://readstates-1.readstates:8080', owned: [0, 3, 7], held: [1, 12] };

    expect(throughSubscription(encodeClaim(claim))).toEqual({ v: 1, ...claim });
  });

  it('round-trip for any URL and partition lists', () => {
    fc.assert(
      fc.property(
        memberUrl,
        fc.array(fc.nat(100_000), { maxLength: 50 }),
        fc.array(fc.nat(100_000), { maxLength: 50 }),
        (url, owned, held) => {
          expect(throughSubscription(encodeClaim({ url, owned, held }))).toEqual({ v: 1, url, owned, held });
        },
      ),
    );
  });

  it.each(notOurs)('decode %s as an empty claim', (_, userData) => {
    expect(throughSubscription(userData)).toEqual(EMPTY_CLAIM);
  });

  it('decode missing user data as an empty claim', () => {
    expect(decodeClaim(null)).toEqual(EMPTY_CLAIM);
    expect(decodeClaim(undefined)).toEqual(EMPTY_CLAIM);
  });

  it('decode any bytes or any JSON without throwing, as a valid claim', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
          fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value))),
          fc
            .record(
              {
                v: fc.constantFrom(1, 2, '1'),
                url: fc.anything(),
                owned: fc.anything(),
                held: fc.anything(),
              },
              { requiredKeys: [] },
            )
            .map((value) => Buffer.from(JSON.stringify(value))),
        ),
        (userData) => {
          const claim = decodeClaim(userData);
          expect(claim.v).toBe(1);
          expect(typeof claim.url).toBe('string');
          for (const partition of [...claim.owned, ...claim.held])
            expect(Number.isInteger(partition) && partition >= 0).toBe(true);
        },
      ),
    );
  });
});

describe('cluster maps', () => {
  it('round-trip through an assignment (kafkajs MemberAssignment)', () => {
    expect(throughAssignment(encodeClusterMap(sampleMap))).toEqual(sampleMap);
  });

  it('round-trip for any valid map', () => {
    const map = fc.nat(10).chain((members) =>
      fc.record({
        v: fc.constant(1 as const),
        assignedAt: fc.integer({ min: 0, max: 2 ** 45 }),
        members: fc.array(memberUrl, { minLength: members, maxLength: members }),
        owners: fc.array(fc.integer({ min: -1, max: members - 1 }), { maxLength: 64 }),
        previous: fc.array(fc.integer({ min: -1, max: members - 1 }), { maxLength: 64 }),
      }),
    );
    fc.assert(
      fc.property(map, (value) => {
        expect(throughAssignment(encodeClusterMap(value))).toEqual(value);
      }),
    );
  });

  it.each<[string, Buffer | null | undefined]>([
    ['null', null],
    ['undefined', undefined],
    ...notOurs.filter(([name]) => name !== 'a map where a claim is expected'),
    ['a claim where a map is expected', encodeClaim({ url: 'http://a', owned: [], held: [] })],
    ['a map of another version', Buffer.from(JSON.stringify({ ...sampleMap, v: 2 }))],
    ['a map with an owner below -1', Buffer.from(JSON.stringify({ ...sampleMap, owners: [-2] }))],
    ['a map without previous owners', Buffer.from(JSON.stringify({ ...sampleMap, previous: undefined }))],
    [
      'a map naming a member by a URL with a path',
      Buffer.from(
        JSON.stringify({
          ...sampleMap,
          members: ['http://a:8080', 'http://evil:8080/steal', 'http://c:8080'],
        }),
      ),
    ],
  ])('decode %s as no map', (_, userData) => {
    expect(
      userData === null || userData === undefined ? decodeClusterMap(userData) : throughAssignment(userData),
    ).toBeUndefined();
  });

  it('decode any bytes or any JSON without throwing, as a valid map or none', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
          fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value))),
        ),
        (userData) => {
          const map = decodeClusterMap(userData);
          if (map !== undefined) expect(clusterMapSchema.safeParse(map).success).toBe(true);
        },
      ),
    );
  });

  it('name each partition’s owner and previous owner by URL, and "" where none is known', () => {
    expect([0, 1, 2, 3, 4, 5].map((partition) => ownerUrl(sampleMap, partition))).toEqual([
      'http://a:8080',
      'http://b:8080',
      'http://c:8080',
      '',
      'http://a:8080',
      '',
    ]);
    expect([0, 1, 2, 3, 4, 5].map((partition) => previousUrl(sampleMap, partition))).toEqual([
      '',
      'http://a:8080',
      '',
      '',
      'http://c:8080',
      '',
    ]);
    expect([ownerUrl(undefined, 0), previousUrl(undefined, 0)]).toEqual(['', '']);
    // An index past the members (a map from a newer leader, or a bad one) names no one.
    const beyond = { ...sampleMap, owners: [7], previous: [3] };
    expect([ownerUrl(beyond, 0), previousUrl(beyond, 0)]).toEqual(['', '']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The assigner

const silentLogger: Logger = {
  info: () => undefined,
  error: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  namespace: () => silentLogger,
  setLogLevel: () => undefined,
};

/** A cluster whose topics have `counts[topic]` partitions (kafkajs asks for nothing else in an assigner). */
function fakeCluster(counts: Record<string, number>): Cluster {
  return {
    findTopicPartitionMetadata: (topic: string): PartitionMetadata[] =>
      Array.from({ length: counts[topic] ?? 0 }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 0,
        replicas: [0],
        isr: [0],
      })),
  } as unknown as Cluster;
}

interface Member {
  memberId: string;
  claim: Omit<Claim, 'v'>;
}

/**
 * One rebalance: every member's assigner builds its subscription from its claim (as it would to join); the
 * leader's assigner assigns; each member's assignment is read back as kafkajs and the projector read it.
 */
async function rebalance(members: readonly Member[], counts: Record<string, number>, leader = 0) {
  const topics = Object.keys(counts);
  const cluster = fakeCluster(counts);
  const assigners = members.map(({ claim }) =>
    createCoPartitionedAssigner(() => claim)({ cluster, groupId: 'readstates', logger: silentLogger }),
  );
  const group: GroupMember[] = members.map(({ memberId }, index) => ({
    memberId,
    memberMetadata: assigners[index]?.protocol({ topics }).metadata ?? Buffer.alloc(0),
  }));
  const assignments = await (assigners[leader] ?? assigners[0])?.assign({ members: group, topics });
  return new Map(
    (assignments ?? []).map(({ memberId, memberAssignment }) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment);
      return [memberId, { assignment: decoded?.assignment ?? {}, map: decodeClusterMap(decoded?.userData) }];
    }),
  );
}

const url = (memberId: string) => `http://${memberId}.readstates:8080`;
const member = (memberId: string, owned: number[] = [], held: number[] = []): Member => ({
  memberId,
  claim: { url: url(memberId), owned, held },
});

describe('createCoPartitionedAssigner', () => {
  it('subscribes with the claim it reads at each join, under its protocol name', () => {
    let claim = { url: 'http://a:8080', owned: [1], held: [] as number[] };
    const assigner = createCoPartitionedAssigner(() => claim)({
      cluster: fakeCluster({}),
      groupId: 'readstates',
      logger: silentLogger,
    });

    const first = assigner.protocol({ topics: [MESSAGES, ACKS] });
    claim = { url: 'http://a:8080', owned: [1, 2], held: [5] };
    const second = assigner.protocol({ topics: [MESSAGES, ACKS] });

    expect([assigner.name, first.name]).toEqual(['ReadstatesCoPartitioned', 'ReadstatesCoPartitioned']);
    const metadata = AssignerProtocol.MemberMetadata.decode(first.metadata);
    expect(metadata?.topics).toEqual([MESSAGES, ACKS]);
    expect(decodeClaim(metadata?.userData)).toEqual({ v: 1, url: 'http://a:8080', owned: [1], held: [] });
    expect(decodeClaim(AssignerProtocol.MemberMetadata.decode(second.metadata)?.userData)).toEqual({
      v: 1,
      ...claim,
    });
  });

  it('gives each member the same partition numbers on both topics, and all of them the same map', async () => {
    const members = [member('m-b'), member('m-a'), member('m-c')];

    const result = await rebalance(members, { [MESSAGES]: 8, [ACKS]: 8 });

    expect([...result.keys()].toSorted()).toEqual(['m-a', 'm-b', 'm-c']);
    const all: number[] = [];
    for (const { assignment } of result.values()) {
      expect(assignment[ACKS]).toEqual(assignment[MESSAGES]);
      all.push(...(assignment[MESSAGES] ?? []));
    }
    expect(all.toSorted((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const maps = [...result.values()].map(({ map }) => map);
    expect(maps[0]).toBeDefined();
    for (const map of maps) expect(map).toEqual(maps[0]);
    // Members in memberId order, owners consistent with the assignment.
    const map = maps[0] as ClusterMap;
    expect(map.members).toEqual([url('m-a'), url('m-b'), url('m-c')]);
    map.owners.forEach((owner, partition) => {
      const memberId = ['m-a', 'm-b', 'm-c'][owner] ?? '';
      expect(result.get(memberId)?.assignment[MESSAGES]).toContain(partition);
    });
    expect(map.previous).toEqual(new Array(8).fill(-1));
    expect(typeof map.assignedAt).toBe('number');
  });

  it('gives the same answer whichever member leads', async () => {
    const members = [member('m-a', [0, 1, 2, 3]), member('m-b', [4, 5], [0]), member('m-c')];
    const counts = { [MESSAGES]: 6, [ACKS]: 6 };

    const byA = await rebalance(members, counts, 0);
    const byC = await rebalance(members, counts, 2);

    const strip = (result: typeof byA) =>
      [...result].map(([memberId, { assignment, map }]) => [memberId, assignment, { ...map, assignedAt: 0 }]);
    expect(strip(byC)).toEqual(strip(byA));
  });

  it('keeps partitions where they were; a moved partition names the member it moved from; -1 where it stayed', async () => {
    // m-a owned everything; m-b joins holding the state of 4 and 5 on disk.
    const result = await rebalance([member('m-a', [0, 1, 2, 3, 4, 5]), member('m-b', [], [4, 5])], {
      [MESSAGES]: 6,
      [ACKS]: 6,
    });

    const map = result.get('m-a')?.map as ClusterMap;
    expect(result.get('m-a')?.assignment[MESSAGES]).toEqual([0, 1, 2]);
    expect(result.get('m-b')?.assignment[MESSAGES]).toEqual([3, 4, 5]);
    expect(map.owners).toEqual([0, 0, 0, 1, 1, 1]);
    // 3, 4 and 5 moved from m-a (which owned them: owning beats holding); 0, 1 and 2 stayed.
    expect(map.previous).toEqual([-1, -1, -1, 0, 0, 0]);
  });

  it('never names a member that merely holds an older copy: -1 where a partition stayed, or its owner left', async () => {
    // m-a keeps 0, m-b keeps 1; m-b still holds an older copy of 0 on disk.
    const stayed = await rebalance([member('m-a', [0]), member('m-b', [1], [0])], {
      [MESSAGES]: 2,
      [ACKS]: 2,
    });
    // m-x owned 0-3 and left; m-a holds 1 on disk.
    const left = await rebalance([member('m-a', [], [1]), member('m-b')], { [MESSAGES]: 4, [ACKS]: 4 });

    expect(stayed.get('m-a')?.map?.owners).toEqual([0, 1]);
    expect(stayed.get('m-a')?.map?.previous).toEqual([-1, -1]);
    const map = left.get('m-b')?.map as ClusterMap;
    // Given back to the member that holds it, so it restores from its own disk: no one to hand over from.
    expect(map.members[map.owners[1] ?? -1]).toBe(url('m-a'));
    expect(map.previous).toEqual([-1, -1, -1, -1]);
  });

  it('assigns the partitions both topics have (the smaller count) and nothing when subscribed to none', async () => {
    const uneven = await rebalance([member('m-a'), member('m-b')], { [MESSAGES]: 6, [ACKS]: 4 });
    const none = await rebalance([member('m-a')], {});

    const all = [...uneven.values()].flatMap(({ assignment }) => assignment[MESSAGES] ?? []);
    expect(all.toSorted()).toEqual([0, 1, 2, 3]);
    expect(uneven.get('m-a')?.map?.owners).toHaveLength(4);
    expect(none.get('m-a')?.assignment).toEqual({});
    expect(none.get('m-a')?.map?.owners).toEqual([]);
  });

  it('gives a member whose subscription carries no claim (another version) partitions, and an empty URL', async () => {
    const cluster = fakeCluster({ [MESSAGES]: 4, [ACKS]: 4 });
    const assigner = createCoPartitionedAssigner(() => ({ url: url('m-a'), owned: [], held: [] }))({
      cluster,
      groupId: 'readstates',
      logger: silentLogger,
    });
    const topics = [MESSAGES, ACKS];

    const assignments = await assigner.assign({
      topics,
      members: [
        { memberId: 'm-a', memberMetadata: assigner.protocol({ topics }).metadata },
        {
          memberId: 'm-old',
          memberMetadata: AssignerProtocol.MemberMetadata.encode({
            version: 1,
            topics,
            userData: Buffer.alloc(0),
          }),
        },
        {
          memberId: 'm-other',
          memberMetadata: AssignerProtocol.MemberMetadata.encode({
            version: 0,
            topics,
            userData: Buffer.from('{"x":1}'),
          }),
        },
      ],
    });

    const decoded = assignments.map(({ memberAssignment }) =>
      AssignerProtocol.MemberAssignment.decode(memberAssignment),
    );
    const map = decodeClusterMap(decoded[0]?.userData);
    expect(map?.members).toEqual([url('m-a'), '', '']);
    expect(decoded.flatMap((assignment) => assignment?.assignment[MESSAGES] ?? []).toSorted()).toEqual([
      0, 1, 2, 3,
    ]);
  });
});

describe('createCoPartitionedAssigner and member URLs', () => {
  it('names a member that advertises a URL with credentials or a path by "" (unreachable), but still assigns to it', async () => {
    const result = await rebalance(
      [
        member('m-a'),
        { memberId: 'm-b', claim: { url: 'http://token@m-b:8080', owned: [], held: [] } },
        { memberId: 'm-c', claim: { url: 'http://m-c:8080/elsewhere', owned: [], held: [] } },
      ],
      { [MESSAGES]: 3, [ACKS]: 3 },
    );

    expect(result.get('m-a')?.map?.members).toEqual([url('m-a'), '', '']);
    expect(result.get('m-c')?.assignment[MESSAGES]).toHaveLength(1);
  });
});

describe('assigner property: for any claims', () => {
  const claims = fc
    .record({
      count: fc.integer({ min: 0, max: 24 }),
      ids: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 6 }),
    })
    .chain(({ count, ids }) =>
      fc.record({
        count: fc.constant(count),
        // Each partition's previous owner: -1 (gone, or never owned), else an index into ids (maybe contested).
        owners: fc.array(fc.integer({ min: -1, max: ids.length - 1 }), {
          minLength: count,
          maxLength: count,
        }),
        contested: fc.array(fc.tuple(fc.nat(Math.max(0, count - 1)), fc.nat(ids.length - 1)), {
          maxLength: 3,
        }),
        held: fc.array(fc.array(fc.nat(count + 2), { maxLength: 6 }), {
          minLength: ids.length,
          maxLength: ids.length,
        }),
        ids: fc.constant(ids),
        leader: fc.nat(ids.length - 1),
      }),
    )
    .map(({ count, owners, contested, held, ids, leader }) => ({
      count,
      leader,
      members: ids.map((memberId, index): Member => ({
        memberId,
        claim: {
          url: url(memberId),
          owned: [
            ...owners.flatMap((owner, partition) => (owner === index ? [partition] : [])),
            ...contested.flatMap(([partition, claimant]) =>
              claimant === index && count > 0 ? [partition] : [],
            ),
          ],
          held: held[index] ?? [],
        },
      })),
    }));

  it('every member gets one map and the same numbers on both topics; owners follow the assignment; previous names the member that owned a partition that moved, and -1 otherwise (never a mere holder)', async () => {
    await fc.assert(
      fc.asyncProperty(claims, async ({ count, leader, members }) => {
        const result = await rebalance(members, { [MESSAGES]: count, [ACKS]: count }, leader);

        const ids = members.map(({ memberId }) => memberId).toSorted((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect([...result.keys()].toSorted()).toEqual([...ids].toSorted());
        const first = result.get(ids[0] ?? '')?.map;
        expect(first).toBeDefined();
        const map = first as ClusterMap;
        expect(map.members).toEqual(ids.map(url));
        expect(map.owners).toHaveLength(count);
        expect(map.previous).toHaveLength(count);
        const assignedTo = new Map<number, string>();
        for (const [memberId, { assignment, map: own }] of result) {
          expect(own).toEqual(map);
          expect(assignment[ACKS]).toEqual(assignment[MESSAGES]);
          for (const partition of assignment[MESSAGES] ?? []) {
            expect(assignedTo.has(partition)).toBe(false);
            assignedTo.set(partition, memberId);
          }
        }
        const claimOf = (index: number) => members.find(({ memberId }) => memberId === ids[index])?.claim;
        for (let partition = 0; partition < count; partition++) {
          const owner = map.owners[partition] ?? -1;
          expect(ids[owner]).toBe(assignedTo.get(partition));
          const previous = map.previous[partition] ?? -1;
          const others = ids.flatMap((_, index) => (index === owner ? [] : [index]));
          const ownedBy = others.filter((index) => claimOf(index)?.owned.includes(partition));
          if (ownedBy.length > 0) {
            // Moved away from a member that owned it: that one answers while the new owner restores.
            expect(ownedBy).toContain(previous);
          } else {
            // Stayed, or its owner left the group: no one to hand over from (a member that merely holds an
            // older copy is never named).
            expect(previous).toBe(-1);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
