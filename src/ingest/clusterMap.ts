import { z } from 'zod';

/**
 * What the members of the consumer group tell each other, through the group protocol and nothing else
 * (coPartitionedAssigner.ts): each member's subscription carries a `MemberClaim` (its advertised URL, what it owns
 * and what it holds on disk); the leader's assignment gives every member the same `ClusterMap`.
 *
 * Both travel as JSON in the protocol's user data, read back through zod: they come from other processes, maybe
 * of another version.
 */
const partitionList = z.array(z.number().int().min(0)).max(100_000);

/**
 * Where a member is reached: '' (nowhere), or an http(s) URL with no credentials, path, query or fragment. Lookups
 * are sent there with the client's Authorization header: nothing else may come from another member's say-so.
 * (Who may join the group is Kafka's to decide: its ACLs on the group are what keep a stranger from claiming.)
 */
const memberUrl = z
  .string()
  .max(2_048)
  .refine((url) => url === '' || isPlainHttpUrl(url), 'must be an http(s) URL without credentials or path');

function isPlainHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.username === '' &&
      url.password === '' &&
      (url.pathname === '/' || url.pathname === '') &&
      url.search === '' &&
      url.hash === '' &&
      !text.endsWith('/')
    );
  } catch {
    return false;
  }
}

const claimSchema = z.object({
  v: z.literal(1),
  url: memberUrl,
  owned: partitionList,
  held: partitionList,
});

export type Claim = z.output<typeof claimSchema>;

export const clusterMapSchema = z.object({
  v: z.literal(1),
  /** When the leader made it (its clock, ms since the epoch): shown by GET /v1/cluster. */
  assignedAt: z.number(),
  /** Each member's advertised URL, in member-id order. */
  members: z.array(memberUrl).max(10_000),
  /** Per partition, the index in `members` of its owner (-1: none). */
  owners: z.array(z.number().int().min(-1)).max(100_000),
  /**
   * Per partition, the index in `members` of the member that owned it in the generation before when that was
   * another member still in the group (-1: none): it answers for the partition while the new owner restores.
   */
  previous: z.array(z.number().int().min(-1)).max(100_000),
});

export type ClusterMap = z.output<typeof clusterMapSchema>;

export function encodeClaim(claim: Omit<Claim, 'v'>): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...claim }));
}

/** A member whose user data is missing or not ours (an older version) claims nothing and cannot be reached. */
export function decodeClaim(userData: Buffer | null | undefined): Claim {
  return parseJson(claimSchema, userData) ?? { v: 1, url: '', owned: [], held: [] };
}

export function encodeClusterMap(map: ClusterMap): Buffer {
  return Buffer.from(JSON.stringify(map));
}

export function decodeClusterMap(userData: Buffer | null | undefined): ClusterMap | undefined {
  return parseJson(clusterMapSchema, userData);
}

function parseJson<T extends z.ZodType>(schema: T, data: Buffer | null | undefined): z.output<T> | undefined {
  if (data === null || data === undefined || data.length === 0) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(data.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The URL serving `partition` by the map ('' when none is known). */
export function ownerUrl(map: ClusterMap | undefined, partition: number): string {
  return map?.members[map.owners[partition] ?? -1] ?? '';
}

/** The URL of the member `partition` moved away from, while the new owner restores ('' when none). */
export function previousUrl(map: ClusterMap | undefined, partition: number): string {
  return map?.members[map.previous[partition] ?? -1] ?? '';
}
