/**
 * deploy/k8s cannot be applied here (no cluster), so check what would drift from the service: variable names,
 * ports, paths, the shutdown bound, labels, the user, memory against HOT_TIER_MB, and the names pods reach each
 * other by.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  advertisedUrl,
  authWarning,
  checkServeConfig,
  configSchema,
  configVariables,
  testOnlyVariables,
  loadConfig,
  secretVariables,
} from '../../src/config.ts';
import { SHUTDOWN_TIMEOUT_MS } from '../../src/main.ts';

type Labels = Record<string, string>;
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { drop?: string[] };
}
interface Container {
  name: string;
  ports: { name?: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: EnvVar[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources: { requests: { memory: string; cpu: string }; limits: { memory: string; cpu: string } };
  securityContext?: SecurityContext;
  volumeMounts: { name: string; mountPath: string }[];
}
interface StatefulSet {
  kind: 'StatefulSet';
  spec: {
    serviceName: string;
    podManagementPolicy?: string;
    selector: { matchLabels: Labels };
    template: {
      metadata: { labels: Labels };
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext?: SecurityContext;
        containers: Container[];
        volumes?: { name: string }[];
      };
    };
    volumeClaimTemplates: { metadata: { name: string } }[];
  };
}
interface ConfigMap {
  kind: 'ConfigMap';
  metadata: { name: string };
  data: Record<string, string>;
}
interface Service {
  kind: 'Service';
  metadata: { name: string };
  spec: {
    type?: string;
    clusterIP?: string;
    publishNotReadyAddresses?: boolean;
    selector: Labels;
    ports: { port: number; targetPort: string | number }[];
  };
}
interface PodDisruptionBudget {
  kind: 'PodDisruptionBudget';
  spec: { maxUnavailable: number; selector: { matchLabels: Labels } };
}
type Manifest = StatefulSet | ConfigMap | Service | PodDisruptionBudget;

const directory = new URL('../../deploy/k8s/', import.meta.url);
const read = (name: string): unknown => parse(readFileSync(new URL(name, directory), 'utf8'));
const kustomization = read('kustomization.yaml') as { resources: string[] };
const manifests = kustomization.resources.map((name) => read(name) as Manifest);

const ofKind = <K extends Manifest['kind']>(kind: K): Extract<Manifest, { kind: K }>[] =>
  manifests.filter((m): m is Extract<Manifest, { kind: K }> => m.kind === kind);

function only<K extends Manifest['kind']>(kind: K): Extract<Manifest, { kind: K }> {
  const found = ofKind(kind);
  if (found.length !== 1) throw new Error(`expected one ${kind} in deploy/k8s, found ${found.length}`);
  return found[0] as Extract<Manifest, { kind: K }>;
}

const statefulSet = only('StatefulSet');
const configMap = only('ConfigMap');
const budget = only('PodDisruptionBudget');
/** The governing Service, whose pod DNS names the pods advertise, and the one clients call. */
const headless = ofKind('Service').find((s) => s.spec.clusterIP === 'None');
const clientService = ofKind('Service').find((s) => s.spec.clusterIP !== 'None');
if (headless === undefined || clientService === undefined) {
  throw new Error('deploy/k8s needs a headless Service for the pods and a Service for clients');
}
const pod = statefulSet.spec.template.spec;
const podLabels = statefulSet.spec.template.metadata.labels;
const [container] = pod.containers;
if (container === undefined) throw new Error('statefulset.yaml has no container');
const env = container.env ?? [];
const fromSecret = env.filter((v) => v.valueFrom?.secretKeyRef !== undefined);
/** Downward API entries: not the service's configuration, only expanded into later entries' values. */
const fromPod = env.filter((v) => v.valueFrom?.fieldRef !== undefined);

/** A stand-in for each Secret value, of the shape the service accepts. */
const secretStandIns: Record<string, string> = {
  DATABASE_URL: 'postgres://u:p@db:5432/readstates',
  API_TOKENS: 'a-token-of-openssl-rand-hex-32',
};

/** What the downward API would give pod readstates-2 in namespace chat. */
const podFields: Record<string, string> = { 'metadata.name': 'readstates-2', 'metadata.namespace': 'chat' };

/**
 * The container's `env` values as Kubernetes sets them: `$(NAME)` is replaced by the value of an entry defined
 * before it (or by the ConfigMap's, which envFrom defines first); an unknown reference stays as written.
 */
function expandedEnv(): Record<string, string> {
  const defined: Record<string, string> = { ...configMap.data };
  const values: Record<string, string> = {};
  for (const v of env) {
    const fieldPath = v.valueFrom?.fieldRef?.fieldPath;
    const value =
      fieldPath !== undefined
        ? (podFields[fieldPath] ?? `<${fieldPath}>`)
        : v.value?.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (ref, name: string) => defined[name] ?? ref);
    if (value === undefined) continue;
    defined[v.name] = value;
    values[v.name] = value;
  }
  return values;
}

/** What the service would parse: the ConfigMap, the container's own values, and a stand-in per Secret value. */
const config = loadConfig({
  ...configMap.data,
  ...expandedEnv(),
  ...Object.fromEntries(fromSecret.map((v) => [v.name, secretStandIns[v.name] ?? 'x'])),
  // Optional in the Secret; only valid together with a SASL mechanism and user.
  KAFKA_SASL_PASSWORD: undefined,
});

/** The container port a probe or Service port names, by name or number. */
function containerPort(port: string | number): number | undefined {
  return typeof port === 'number' ? port : container?.ports.find((p) => p.name === port)?.containerPort;
}

function mebibytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(quantity);
  if (match === null) throw new Error(`write memory as Mi or Gi, not ${quantity}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
}

const isSubset = (selector: Labels, labels: Labels): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/k8s', () => {
  it('lists every manifest in kustomization.yaml', () => {
    const files = readdirSync(directory).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it('sets only variables the config schema knows, every one of them, with values it accepts', () => {
    const known = Object.keys(configSchema.shape);
    const named = [
      ...Object.keys(configMap.data),
      ...env.filter((v) => !fromPod.includes(v)).map((v) => v.name),
    ];
    expect(named.filter((name) => !known.includes(name))).toEqual([]);
    // A new variable in src/config.ts needs a decision here: ConfigMap, Secret, or made from the pod's fields.
    const deployed = configVariables.filter(
      (name) => !(testOnlyVariables as readonly string[]).includes(name),
    );
    expect([...named].sort()).toEqual(deployed.sort());
    expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
    expect(fromSecret.map((v) => v.name).sort()).toEqual([...secretVariables].sort());
  });

  it('takes every credential from the Secret, never from the ConfigMap', () => {
    for (const name of secretVariables) expect(Object.keys(configMap.data)).not.toContain(name);
    // The Secret must hold tokens: the pod would not start without them.
    const apiTokens = fromSecret.find((v) => v.name === 'API_TOKENS')?.valueFrom?.secretKeyRef;
    expect(apiTokens?.optional).not.toBe(true);
  });

  it('serves with the tokens from the Secret and authentication on', () => {
    expect(config.AUTH_DISABLED).toBe(false);
    expect(() => {
      checkServeConfig(config);
    }).not.toThrow();
    expect(authWarning(config)).toBeUndefined();
    // Without the Secret's tokens the same ConfigMap refuses to serve rather than open the API.
    expect(() => {
      checkServeConfig({ ...config, API_TOKENS: undefined });
    }).toThrow(/API_TOKENS is not set/);
  });

  it('probes liveness on /healthz and readiness on /readyz, on the port the service listens on', () => {
    const [port] = container.ports;
    expect(port?.containerPort).toBe(config.HTTP_PORT);
    expect(container.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(container.startupProbe?.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet.path).toBe('/readyz');
    for (const probe of [container.livenessProbe, container.startupProbe, container.readinessProbe]) {
      expect(containerPort(probe?.httpGet.port ?? -1)).toBe(config.HTTP_PORT);
    }
  });

  it('gives the service longer than its own shutdown bound before SIGKILL', () => {
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(SHUTDOWN_TIMEOUT_MS);
  });

  it('mounts the volume claim at DATA_DIR, and /tmp, on a read-only root filesystem', () => {
    const [claim] = statefulSet.spec.volumeClaimTemplates;
    const mountOf = (name: string | undefined) =>
      container.volumeMounts.find((m) => m.name === name)?.mountPath;
    expect(mountOf(claim?.metadata.name)).toBe(config.DATA_DIR);
    expect(container.volumeMounts.map((m) => m.mountPath)).toContain('/tmp');
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('selects the pods it means by their labels', () => {
    expect(isSubset(statefulSet.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(isSubset(budget.spec.selector.matchLabels, podLabels)).toBe(true);
    expect(budget.spec.maxUnavailable).toBe(1);
    for (const service of [headless, clientService]) {
      expect(isSubset(service.spec.selector, podLabels)).toBe(true);
      expect(service.spec.ports.map((p) => containerPort(p.targetPort))).toEqual([config.HTTP_PORT]);
    }
    expect(statefulSet.spec.serviceName).toBe(headless.metadata.name);
  });

  it('advertises each pod by its stable DNS name under the headless Service, on the port it listens on', () => {
    const names = fromPod.map((v) => [v.name, v.valueFrom?.fieldRef?.fieldPath]);
    expect(names).toEqual(
      expect.arrayContaining([
        ['POD_NAME', 'metadata.name'],
        ['POD_NAMESPACE', 'metadata.namespace'],
      ]),
    );
    // Only the pod's own name: the ConfigMap is shared by every pod, so it cannot say who this one is.
    expect(Object.keys(configMap.data)).not.toContain('HTTP_ADVERTISED_URL');
    // The headless name resolves to the pod's own address, so the port is the container's, not the Service's.
    expect(advertisedUrl(config)).toBe(
      `http://readstates-2.${headless.metadata.name}.chat.svc.cluster.local:${config.HTTP_PORT}`,
    );
  });

  it('keeps restoring pods resolvable for their peers, and sends clients to ready pods only', () => {
    // A pod catching up is not ready for a long time, yet peers forward to it: its name must resolve.
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(clientService.spec.publishNotReadyAddresses).not.toBe(true);
    expect(clientService.spec.type ?? 'ClusterIP').toBe('ClusterIP');
  });

  it('scales without waiting for each pod to be ready, and disrupts one pod at a time for any replica count', () => {
    // OrderedReady would hold every new pod until the previous one has caught up on its partitions.
    expect(statefulSet.spec.podManagementPolicy).toBe('Parallel');
    expect(budget.spec.maxUnavailable).toBe(1);
    // Explicit, not left to the default: the state it keeps is disk each pod's volume must have room for.
    expect(configMap.data.PARTITION_RETAIN_MS).toMatch(/^\d+$/);
  });

  it('runs as the non-root user of the image, without privileges', () => {
    const dockerUser = /^USER (\d+)(?::\d+)?$/m.exec(
      readFileSync(new URL('../Dockerfile', directory), 'utf8'),
    )?.[1];
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).toBe(Number(dockerUser));
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(container.securityContext?.runAsNonRoot).not.toBe(false);
    expect(container.securityContext?.runAsUser ?? 1).not.toBe(0);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container.securityContext?.capabilities?.drop).toEqual(['ALL']);
  });

  it('requests memory for the hot tier and the resident records on top of the rest of the process', () => {
    // The budget for everything else (statefulset.yaml says what it covers); the hot tier is HOT_TIER_MB more,
    // outside the V8 heap, and the projector's resident ids ~160 bytes each (about 120 measured, and margin).
    const restOfProcessMiB = 768;
    const residentMiB = (config.RESIDENT_RECORDS * 160) / 2 ** 20;
    const { requests, limits } = container.resources;
    expect(mebibytes(requests.memory)).toBeGreaterThanOrEqual(
      config.HOT_TIER_MB + residentMiB + restOfProcessMiB,
    );
    expect(mebibytes(limits.memory)).toBeGreaterThan(mebibytes(requests.memory));
    // An online rebuild keeps resident ids of its own beside the live projector's.
    expect(mebibytes(limits.memory)).toBeGreaterThanOrEqual(
      config.HOT_TIER_MB + 2 * residentMiB + restOfProcessMiB,
    );
  });
});
