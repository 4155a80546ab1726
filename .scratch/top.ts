import { readFileSync } from 'node:fs';
type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] };
const profile = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const self = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const name = `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber}`;
  self.set(name, (self.get(name) ?? 0) + (node.hitCount ?? 0));
  total += node.hitCount ?? 0;
}
for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 30))) {
  console.log(`${((hits / total) * 100).toFixed(1).padStart(5)}%  ${name}`);
}
