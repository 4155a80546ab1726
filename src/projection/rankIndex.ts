import { compareSnowflakes, type Snowflake } from '../contract/snowflake.ts';

/**
 * An order-statistic set of snowflake ids kept as small records: a counted B+tree whose nodes live in a store,
 * plus a header the caller keeps wherever it likes (its own record, or inside another one).
 *
 * The newest keys sit in the header's `tail`, not in the tree: appending above the maximum, deleting a tail key
 * and counting above a key at or past the tail's first key touch the header only. The tail moves into the tree
 * as one full leaf when it overflows, so appends cost amortized O(1) node writes; everything else costs
 * O(log n) node reads and writes (one root-to-leaf path plus at most one sibling per level).
 */

/** One child of a branch: the child's node id, how many keys its subtree holds and its smallest key. */
export type RankChild = { readonly node: number; readonly count: number; readonly min: Snowflake };

/** Keys ascending. */
export type RankLeaf = { readonly kind: 'leaf'; readonly keys: readonly Snowflake[] };
/** Children in key order; `min` is exact, so a child's keys lie in [its min, the next child's min). */
export type RankBranch = { readonly kind: 'branch'; readonly children: readonly RankChild[] };
export type RankNode = RankLeaf | RankBranch;

/** The header of a non-empty index; an empty index has no header (null). */
export type RankIndexHeader = {
  /** Keys in the tree and the tail together. */
  readonly size: number;
  readonly max: Snowflake;
  /** The greatest keys, ascending, all above every key in the tree; at most `fanout` of them. */
  readonly tail: readonly Snowflake[];
  /** Root node id; null when every key is in the tail. */
  readonly root: number | null;
  /** Levels in the tree: 0 when empty, 1 when the root is a leaf. */
  readonly height: number;
  /** The id the next new node gets. Ids are never reused while the index is non-empty. */
  readonly next_node: number;
};

/** The node records of one index. Reads see this event's earlier writes. */
export interface RankNodes {
  /** Most keys in a leaf and children in a branch; at least 4. Every node but the root holds at least half. */
  readonly fanout: number;
  get(node: number): RankNode | undefined;
  put(node: number, value: RankNode): void;
  delete(node: number): void;
}

export function insertKey(nodes: RankNodes, header: RankIndexHeader | null, key: Snowflake): RankIndexHeader {
  if (header === null) return { size: 1, max: key, tail: [key], root: null, height: 0, next_node: 0 };
  const first = header.tail[0];
  const intoTail =
    first === undefined ? compareSnowflakes(key, header.max) > 0 : compareSnowflakes(key, first) >= 0;
  if (intoTail) {
    const tail = withKey(header.tail, key);
    const max = itemAt(tail, tail.length - 1);
    if (tail.length <= nodes.fanout) return { ...header, size: header.size + 1, max, tail };
    const tree = appendLeaf(nodes, header, tail.slice(0, nodes.fanout));
    return { ...tree, size: header.size + 1, max, tail: tail.slice(nodes.fanout) };
  }
  // Below the tail (or below the maximum when the tail is empty): into the tree.
  return { ...header, ...insertIntoTree(nodes, header, key), size: header.size + 1 };
}

/** The header without `key`, or null when the index becomes empty. */
export function deleteKey(nodes: RankNodes, header: RankIndexHeader, key: Snowflake): RankIndexHeader | null {
  const size = header.size - 1;
  const first = header.tail[0];
  if (first !== undefined && compareSnowflakes(key, first) >= 0) {
    const tail = withoutKey(header.tail, key);
    if (size === 0) return null;
    const max = tail.length > 0 ? itemAt(tail, tail.length - 1) : treeMax(nodes, header.root);
    return { ...header, size, max, tail };
  }
  const tree = deleteFromTree(nodes, header, key);
  if (size === 0) return null;
  const max = header.tail.length === 0 && key === header.max ? treeMax(nodes, tree.root) : header.max;
  return { ...header, ...tree, size, max };
}

/** How many keys are greater than `key`. */
export function countAbove(nodes: RankNodes, header: RankIndexHeader | null, key: Snowflake): number {
  if (header === null || compareSnowflakes(key, header.max) >= 0) return 0;
  const { tail } = header;
  const first = tail[0];
  if (first !== undefined && compareSnowflakes(key, first) >= 0) return tail.length - upperBound(tail, key);
  let total = tail.length;
  let id = header.root;
  while (id !== null) {
    const node = mustGet(nodes, id);
    if (node.kind === 'leaf') return total + node.keys.length - upperBound(node.keys, key);
    const at = route(node.children, key);
    for (let i = at + 1; i < node.children.length; i++) total += itemAt(node.children, i).count;
    id = at < 0 ? null : itemAt(node.children, at).node;
  }
  return total;
}

/** The key with `rank` keys below it, or undefined when the index holds no more than `rank` keys. O(log n). */
export function keyAt(nodes: RankNodes, header: RankIndexHeader | null, rank: number): Snowflake | undefined {
  if (header === null || !(rank >= 0 && rank < header.size)) return undefined;
  const inTree = header.size - header.tail.length;
  if (rank >= inTree) return header.tail[rank - inTree];
  let left = rank;
  let id = header.root;
  while (id !== null) {
    const node = mustGet(nodes, id);
    if (node.kind === 'leaf') return node.keys[left];
    id = null;
    for (const child of node.children) {
      if (left < child.count) {
        id = child.node;
        break;
      }
      left -= child.count;
    }
  }
  throw corrupt(`the tree holds fewer keys than its header counts (${inTree})`);
}

type TreeShape = Pick<RankIndexHeader, 'root' | 'height' | 'next_node'>;

/** Allocates node ids while one operation runs. */
type Writer = { readonly nodes: RankNodes; next: number };

function insertIntoTree(nodes: RankNodes, header: RankIndexHeader, key: Snowflake): TreeShape {
  const w: Writer = { nodes, next: header.next_node };
  if (header.root === null) return newRoot(w, { kind: 'leaf', keys: [key] }, 1);
  const parts = insertAt(w, header.root, mustGet(nodes, header.root), key);
  return rootOf(w, parts, header.height);
}

function insertAt(w: Writer, id: number, node: RankNode, key: Snowflake): RankChild[] {
  if (node.kind === 'leaf') return storeNode(w, id, { kind: 'leaf', keys: withKey(node.keys, key) });
  const at = Math.max(0, route(node.children, key));
  const child = itemAt(node.children, at);
  const parts = insertAt(w, child.node, mustGet(w.nodes, child.node), key);
  return storeNode(w, id, spliceChildren(node, at, 1, parts));
}

/** Adds `keys`, all above every key in the tree, along the right edge. */
function appendLeaf(nodes: RankNodes, header: RankIndexHeader, keys: readonly Snowflake[]): TreeShape {
  const w: Writer = { nodes, next: header.next_node };
  const leaf: RankLeaf = { kind: 'leaf', keys };
  if (header.root === null) return newRoot(w, leaf, 1);
  const root = mustGet(nodes, header.root);
  // A root leaf may hold a single key; sharing its keys with the new leaf keeps every non-root node half full.
  if (root.kind === 'leaf') return rootOf(w, storeNode(w, header.root, concatNodes(root, leaf)), 1);
  const id = w.next++;
  nodes.put(id, leaf);
  return rootOf(w, appendAt(w, header.root, root, header.height, childOf(id, leaf)), header.height);
}

function appendAt(w: Writer, id: number, node: RankBranch, levels: number, leaf: RankChild): RankChild[] {
  const last = node.children.length - 1;
  if (levels === 2) return storeNode(w, id, spliceChildren(node, last + 1, 0, [leaf]));
  const child = itemAt(node.children, last);
  const below = mustGet(w.nodes, child.node);
  if (below.kind === 'leaf') throw corrupt(`node ${child.node} is a leaf above the leaf level`);
  const parts = appendAt(w, child.node, below, levels - 1, leaf);
  return storeNode(w, id, spliceChildren(node, last, 1, parts));
}

/** A new root over `parts` when the old root split, else the same root. */
function rootOf(w: Writer, parts: readonly RankChild[], height: number): TreeShape {
  const only = parts[0];
  if (parts.length === 1 && only !== undefined) return { root: only.node, height, next_node: w.next };
  return newRoot(w, { kind: 'branch', children: parts }, height + 1);
}

function newRoot(w: Writer, node: RankNode, height: number): TreeShape {
  const id = w.next++;
  w.nodes.put(id, node);
  return { root: id, height, next_node: w.next };
}

function deleteFromTree(nodes: RankNodes, header: RankIndexHeader, key: Snowflake): TreeShape {
  if (header.root === null) throw absent(key);
  const w: Writer = { nodes, next: header.next_node };
  const root = removeAt(w, mustGet(nodes, header.root), key);
  if (root.kind === 'leaf' && root.keys.length === 0) {
    nodes.delete(header.root);
    return { root: null, height: 0, next_node: w.next };
  }
  const only = root.kind === 'branch' && root.children.length === 1 ? root.children[0] : undefined;
  if (only !== undefined) {
    nodes.delete(header.root);
    return { root: only.node, height: header.height - 1, next_node: w.next };
  }
  nodes.put(header.root, root);
  return { root: header.root, height: header.height, next_node: w.next };
}

/** The node without `key`; the caller writes it. Descendants are written here. */
function removeAt(w: Writer, node: RankNode, key: Snowflake): RankNode {
  if (node.kind === 'leaf') return { kind: 'leaf', keys: withoutKey(node.keys, key) };
  const at = route(node.children, key);
  if (at < 0) throw absent(key);
  const child = itemAt(node.children, at);
  return refill(w, node, at, removeAt(w, mustGet(w.nodes, child.node), key));
}

/** Writes child `at` of `parent`, merging it with or borrowing from a sibling when it fell below half full. */
function refill(w: Writer, parent: RankBranch, at: number, child: RankNode): RankBranch {
  const { nodes } = w;
  const id = itemAt(parent.children, at).node;
  if (widthOf(child) >= Math.floor(nodes.fanout / 2)) {
    nodes.put(id, child);
    return spliceChildren(parent, at, 1, [childOf(id, child)]);
  }
  // Every branch has at least two children, so a sibling exists.
  const lo = at > 0 ? at - 1 : at;
  const loId = itemAt(parent.children, lo).node;
  const hiId = itemAt(parent.children, lo + 1).node;
  const joined =
    lo === at ? concatNodes(child, mustGet(nodes, hiId)) : concatNodes(mustGet(nodes, loId), child);
  const width = widthOf(joined);
  if (width <= nodes.fanout) {
    nodes.put(loId, joined);
    nodes.delete(hiId);
    return spliceChildren(parent, lo, 2, [childOf(loId, joined)]);
  }
  const half = Math.ceil(width / 2);
  const left = sliceNode(joined, 0, half);
  const right = sliceNode(joined, half, width);
  nodes.put(loId, left);
  nodes.put(hiId, right);
  return spliceChildren(parent, lo, 2, [childOf(loId, left), childOf(hiId, right)]);
}

/** Writes `node` under `id`, split into two halves (the right one under a new id) when it is over full. */
function storeNode(w: Writer, id: number, node: RankNode): RankChild[] {
  const width = widthOf(node);
  if (width <= w.nodes.fanout) {
    w.nodes.put(id, node);
    return [childOf(id, node)];
  }
  const half = Math.ceil(width / 2);
  const left = sliceNode(node, 0, half);
  const right = sliceNode(node, half, width);
  const rightId = w.next++;
  w.nodes.put(id, left);
  w.nodes.put(rightId, right);
  return [childOf(id, left), childOf(rightId, right)];
}

function treeMax(nodes: RankNodes, root: number | null): Snowflake {
  if (root === null) throw corrupt('the tree is empty but the header counts keys in it');
  let node = mustGet(nodes, root);
  while (node.kind === 'branch') node = mustGet(nodes, itemAt(node.children, node.children.length - 1).node);
  return itemAt(node.keys, node.keys.length - 1);
}

/** The last child whose min is at most `key`, or -1 when every key of the node is above it. */
function route(children: readonly RankChild[], key: Snowflake): number {
  let lo = 0;
  let hi = children.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSnowflakes(itemAt(children, mid).min, key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The index of the first key greater than `key`. */
function upperBound(keys: readonly Snowflake[], key: Snowflake): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSnowflakes(itemAt(keys, mid), key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function withKey(keys: readonly Snowflake[], key: Snowflake): Snowflake[] {
  const at = upperBound(keys, key);
  if (at > 0 && keys[at - 1] === key) throw new Error(`rank index: key ${key} is already present`);
  return [...keys.slice(0, at), key, ...keys.slice(at)];
}

function withoutKey(keys: readonly Snowflake[], key: Snowflake): Snowflake[] {
  const at = upperBound(keys, key) - 1;
  if (at < 0 || keys[at] !== key) throw absent(key);
  return [...keys.slice(0, at), ...keys.slice(at + 1)];
}

function widthOf(node: RankNode): number {
  return node.kind === 'leaf' ? node.keys.length : node.children.length;
}

function childOf(id: number, node: RankNode): RankChild {
  if (node.kind === 'leaf') return { node: id, count: node.keys.length, min: itemAt(node.keys, 0) };
  let count = 0;
  for (const child of node.children) count += child.count;
  return { node: id, count, min: itemAt(node.children, 0).min };
}

function spliceChildren(
  node: RankBranch,
  start: number,
  deleteCount: number,
  items: readonly RankChild[],
): RankBranch {
  const children = [...node.children];
  children.splice(start, deleteCount, ...items);
  return { kind: 'branch', children };
}

function sliceNode(node: RankNode, start: number, end: number): RankNode {
  return node.kind === 'leaf'
    ? { kind: 'leaf', keys: node.keys.slice(start, end) }
    : { kind: 'branch', children: node.children.slice(start, end) };
}

/** `a` then `b`, two neighbours of one level (so of one kind). */
function concatNodes(a: RankNode, b: RankNode): RankNode {
  if (a.kind === 'leaf' && b.kind === 'leaf') return { kind: 'leaf', keys: [...a.keys, ...b.keys] };
  if (a.kind === 'branch' && b.kind === 'branch') {
    return { kind: 'branch', children: [...a.children, ...b.children] };
  }
  throw corrupt('a leaf and a branch are neighbours');
}

function mustGet(nodes: RankNodes, id: number): RankNode {
  const node = nodes.get(id);
  if (node === undefined) throw corrupt(`node ${id} is missing`);
  return node;
}

function itemAt<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw corrupt(`index ${index} is out of range (${items.length})`);
  return item;
}

function absent(key: Snowflake): Error {
  return new Error(`rank index: key ${key} is not present`);
}

function corrupt(detail: string): Error {
  return new Error(`rank index is corrupt: ${detail}. Rebuild the projection from the topics.`);
}
