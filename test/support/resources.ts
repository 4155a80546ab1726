/**
 * A ledger of what tests open. Helpers record each Kafka client, HTTP server and database pool they hand out
 * and strike it off when closed; leakCheck.ts fails the test that leaves one open.
 */
export type ResourceKind = 'kafka client' | 'http server' | 'database pool' | 'rocksdb' | 'child process';

interface OpenResource {
  kind: ResourceKind;
  name: string;
}

const open = new Set<OpenResource>();

/** Records an open resource; call the returned function when it is closed. */
export function trackResource(kind: ResourceKind, name: string): () => void {
  const entry = { kind, name };
  open.add(entry);
  return () => open.delete(entry);
}

export function openResources(): readonly OpenResource[] {
  return [...open];
}
