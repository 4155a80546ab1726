import { compareSnowflakes, type Snowflake } from '../../src/contract/snowflake.ts';
import type { RankIndexHeader, RankNode, RankNodes } from '../../src/projection/rankIndex.ts';

export type MapRankNodes = RankNodes & { readonly map: ReadonlyMap<number, RankNode> };

/** Rank-index nodes in a Map, to test the index alone. */
export function createMapRankNodes(fanout: number): MapRankNodes {
  const map = new Map<number, RankNode>();
  return {
    fanout,
    map,
    get: (node) => map.get(node),
    put: (node, value) => {
      map.set(node, value);
    },
    delete: (node) => {
      map.delete(node);
    },
  };
}

/**
 * Checks every structural rule of a rank index and returns its keys in order: sorted unique keys, exact child
 * counts and minimums, all leaves at one depth, node widths within [fanout/2, fanout] (the root from 1 or 2),
 * the tail above the tree, size and max right, and no node left behind or unreachable.
 */
export function rankIndexKeys(
  nodes: RankNodes,
  header: RankIndexHeader | null,
  storedNodes: Iterable<number>,
): Snowflake[] {
  const stored = new Set(storedNodes);
  if (header === null) {
    if (stored.size > 0) throw new Error(`an empty index keeps nodes ${[...stored].join(', ')}`);
    return [];
  }
  const { fanout } = nodes;
  const half = Math.floor(fanout / 2);
  const seen = new Set<number>();
  const treeKeys: Snowflake[] = [];

  const walk = (id: number, depth: number): { count: number; min: Snowflake } => {
    if (seen.has(id)) throw new Error(`node ${id} is reachable twice`);
    seen.add(id);
    if (id >= header.next_node) throw new Error(`node ${id} is not below next_node ${header.next_node}`);
    const node = nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is missing`);
    const isRoot = depth === 1;
    if (node.kind === 'leaf') {
      if (depth !== header.height) throw new Error(`leaf ${id} at depth ${depth}, height ${header.height}`);
      const width = node.keys.length;
      if (width > fanout || width < (isRoot ? 1 : half)) throw new Error(`leaf ${id} holds ${width} keys`);
      treeKeys.push(...node.keys);
      return { count: width, min: node.keys[0] ?? '' };
    }
    const width = node.children.length;
    if (width > fanout || width < (isRoot ? 2 : half)) throw new Error(`branch ${id} has ${width} children`);
    let count = 0;
    for (const child of node.children) {
      const actual = walk(child.node, depth + 1);
      if (actual.count !== child.count)
        throw new Error(`branch ${id} counts ${child.count} in ${child.node}`);
      if (actual.min !== child.min) throw new Error(`branch ${id} has min ${child.min} for ${child.node}`);
      count += actual.count;
    }
    return { count, min: node.children[0]?.min ?? '' };
  };

  if (header.root === null) {
    if (header.height !== 0) throw new Error(`no root but height ${header.height}`);
  } else {
    walk(header.root, 1);
  }
  const unreachable = [...stored].filter((id) => !seen.has(id));
  if (unreachable.length > 0) throw new Error(`nodes ${unreachable.join(', ')} are unreachable`);
  if (header.tail.length > fanout) throw new Error(`the tail holds ${header.tail.length} keys`);
  const keys = [...treeKeys, ...header.tail];
  for (let i = 1; i < keys.length; i++) {
    const previous = keys[i - 1] ?? '';
    const current = keys[i] ?? '';
    if (compareSnowflakes(previous, current) >= 0)
      throw new Error(`keys out of order: ${previous}, ${current}`);
  }
  if (keys.length !== header.size) throw new Error(`size ${header.size} but ${keys.length} keys`);
  if (keys.at(-1) !== header.max) throw new Error(`max ${header.max} but the greatest key is ${keys.at(-1)}`);
  return keys;
}
