/**
 * A V8 CPU profile of one phase of the run (the main thread only), and where its time went. Native work done
 * on the main thread (a synchronous RocksDB write, say) is sampled; work on libuv's pool threads is not. The
 * profile samples wall-clock time: on a busy machine, time the thread spent descheduled lands on whatever ran.
 */
import { Session } from 'node:inspector/promises';
import type { Profiler } from 'node:inspector';

export type ProfileSummary = {
  totalMs: number;
  byFunction: { name: string; ms: number }[];
  byArea: { area: string; ms: number }[];
  /** Our functions (src/) by time spent in them and in what they called, synchronously. */
  ourInclusive: { name: string; ms: number }[];
};

export async function startCpuProfile(): Promise<() => Promise<Profiler.Profile>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return profile;
  };
}

/** Where code lives, coarsely: our layers by folder, dependencies by package, the rest by URL. */
function areaOf(url: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1] ?? url;
  const ours = /\/(src\/[^/]+|bench\/[^/]+)\//.exec(url);
  if (ours !== null) return ours[1] ?? url;
  return url.startsWith('node:') ? 'node internals' : url;
}

type Node = Profiler.ProfileNode;

/**
 * Self time by area and by function, and inclusive time of our own functions (src/). A native frame (no URL)
 * is charged to the area of the JS function that called it and named after it: a RocksDB write done on the
 * main thread shows as `(native) in _writeSync …`. V8's own buckets ((garbage collector), (idle), (program))
 * stay as they are.
 */
export function summariseCpuProfile(profile: Profiler.Profile, top = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, Node>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  const file = (url: string) => url.replace(/^.*\/(node_modules|src|bench)\//, '$1/');
  const labelOf = (node: Node): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${file(url)}:${lineNumber + 1}`;
  };
  /** The nearest frame with a URL: the node itself, or the JS caller of a native frame. */
  const scriptFrameOf = (node: Node): Node | undefined => {
    let current: Node | undefined = node;
    while (current !== undefined && current.callFrame.url === '') current = parentOf.get(current.id);
    return current?.callFrame.functionName === '(root)' ? undefined : current;
  };

  const selfMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time since the previous sample: charge it to the sample taken after it.
  samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (deltas[i] ?? 0) / 1000));

  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) => map.set(key, (map.get(key) ?? 0) + ms);
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    totalMs += ms;
    const { functionName, url } = node.callFrame;
    if (url === '' && functionName.startsWith('(')) {
      add(byFunction, functionName, ms);
      add(byArea, functionName, ms);
      continue;
    }
    const script = scriptFrameOf(node);
    if (url !== '') add(byFunction, labelOf(node), ms);
    else {
      const native = `(native) ${functionName}`.trimEnd();
      add(byFunction, script === undefined ? native : `${native} in ${labelOf(script)}`, ms);
    }
    add(byArea, script === undefined ? 'native' : areaOf(script.callFrame.url), ms);
    const seen = new Set<string>();
    for (let frame: Node | undefined = node; frame !== undefined; frame = parentOf.get(frame.id)) {
      if (!frame.callFrame.url.includes('/src/') || frame.callFrame.url.includes('node_modules')) continue;
      const label = labelOf(frame);
      if (seen.has(label)) continue; // recursion: count each function once per sample
      seen.add(label);
      add(inclusive, label, ms);
    }
  }
  const sorted = (map: Map<string, number>) => [...map].sort(([, a], [, b]) => b - a);
  return {
    totalMs,
    byFunction: sorted(byFunction)
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms })),
    byArea: sorted(byArea).map(([area, ms]) => ({ area, ms })),
    ourInclusive: sorted(inclusive)
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms })),
  };
}
