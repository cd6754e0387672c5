// A small Kubernetes-API-compatible HTTP server for tests: the REAL
// @kubernetes/client-node talks to it over plain HTTP on 127.0.0.1. It serves
// discovery for networking.istio.io and any of its resources (destinationrules,
// virtualservices, ...) in one namespace or across all: list, watch, get,
// create, JSON Patch / merge patch, update, delete; and core v1 Pods and
// Services (get, label-selected list: fake-core.ts). Tests inject faults
// (latency, N × 409/500, dropped or silent watches, compaction → 410, the
// server going down) and read back every request it received.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { apiVersionOf, clusterScoped, FakeObjects, GROUP, kindOf, statusBody, type Obj, type Result } from './fake-objects.js';
import { routeCore } from './fake-core.js';
import { WatchHub } from './fake-watch.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  authorization: string | undefined;
  watch: boolean;
  status?: number;
}

export interface FaultRule {
  method?: string;
  /** Substring of, or pattern for, the request path. */
  path?: string | RegExp;
  status: number;
  count: number;
  /** Match watch requests instead of the others (a watch then answers the status, as a failing API server would). */
  watch?: boolean;
}

export class FakeApiServer {
  readonly objects = new FakeObjects();
  readonly watches = new WatchHub(this.objects);
  readonly requests: RecordedRequest[] = [];
  /** Which networking.istio.io versions discovery reports and the server serves, newest first. */
  servedVersions: string[] = ['v1', 'v1beta1', 'v1alpha3'];
  /** Added to every request before it is handled: a fixed delay, uniform in [min, max], or drawn from a function (seeded tests). */
  latencyMs: number | { min: number; max: number } | (() => number) = 0;
  /** TCP connections accepted so far (watches included): tests check the client reuses them. */
  connectionsOpened = 0;
  /** Faults answered so far, by status code. */
  readonly injected = new Map<number, number>();
  /** Core v1 Events created (POST /api/v1/namespaces/NS/events), as stored, in order. */
  readonly events: Obj[] = [];
  private faults: FaultRule[] = [];
  /** Latency timers still running: `stop()` ends them so no timer outlives the server. */
  private readonly delays = new Map<NodeJS.Timeout, () => void>();
  private server: Server | undefined;
  private port = 0;

  /** Start on 127.0.0.1 (a random port the first time, the same port on restart). */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    // Longer than the client's pooled idle sockets (30 s), as the real API
    // server's 90 s is, so a reused socket is never one the server is closing.
    server.keepAliveTimeout = 60_000;
    server.on('connection', () => {
      this.connectionsOpened++;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The API server goes down: every connection is cut and new ones are refused. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.watches.dropAll();
    for (const [timer, resolve] of this.delays) {
      clearTimeout(timer);
      resolve();
    }
    this.delays.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A KubeConfig pointing at this server, as a user's kubeconfig would. */
  kubeConfig(): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tester', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'tester' }],
      currentContext: 'fake',
    });
    return kubeConfig;
  }

  /** The same, written to `path` as a kubeconfig file for a process (`--kubeconfig`); returns the path. */
  writeKubeconfig(path: string): string {
    writeFileSync(path, `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${this.url}", insecure-skip-tls-verify: true}}]
users: [{name: tester, user: {token: fake-token}}]
contexts: [{name: fake, context: {cluster: fake, user: tester}}]
current-context: fake
`);
    return path;
  }

  /** The next `count` requests matching method/path are answered with `status` and not executed. */
  failNext(rule: FaultRule): void {
    this.faults.push({ ...rule });
  }

  /** Make every resourceVersion older than the current one too old to watch from (etcd compaction). */
  compact(): void {
    this.objects.compactedRv = this.objects.rv;
  }

  /** Store an object directly, as another client would (watchers see ADDED or MODIFIED). */
  put(plural: string, object: Obj): Obj {
    const meta = { ...(object.metadata as { namespace?: string; name: string }) };
    meta.namespace = clusterScoped(plural) ? '' : (meta.namespace ?? '');
    const current = this.objects.get(plural, meta.namespace, meta.name);
    const result = current
      ? this.objects.update(plural, meta.namespace, meta.name, { ...object, metadata: { ...object.metadata, namespace: meta.namespace, resourceVersion: current.metadata!.resourceVersion } })
      : this.objects.create(plural, meta.namespace, { ...object, metadata: { ...object.metadata, namespace: meta.namespace, resourceVersion: undefined } });
    if (result.status >= 300) throw new Error(`put failed: ${JSON.stringify(result.body)}`);
    return result.body as Obj;
  }

  count(filter: Partial<Pick<RecordedRequest, 'method' | 'watch'>> & { path?: string | RegExp } = {}): number {
    return this.requests.filter((r) => matches(r, filter.method, filter.path) && (filter.watch === undefined || r.watch === filter.watch)).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      contentType: req.headers['content-type']?.split(';')[0],
      authorization: req.headers.authorization,
      watch: isWatch,
    };
    this.requests.push(record);
    try {
      const body = await readBody(req);
      await this.delay();
      if (res.destroyed) return;
      const fault = this.takeFault(record);
      if (fault !== undefined) {
        this.injected.set(fault, (this.injected.get(fault) ?? 0) + 1);
        return send(res, record, { status: fault, body: statusBody(fault, fault === 409 ? 'Conflict' : 'InternalError', `injected fault ${fault}`) });
      }
      const result = this.route(req, res, url, isWatch, body, record);
      if (result) send(res, record, result);
    } catch (err) {
      send(res, record, { status: 400, body: statusBody(400, 'BadRequest', err instanceof Error ? err.message : String(err)) });
    }
  }

  /** Answers a request, or returns undefined when a watch took over the response. */
  private route(req: IncomingMessage, res: ServerResponse, url: URL, isWatch: boolean, body: unknown, record: RecordedRequest): Result | undefined {
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const notFound: Result = { status: 404, body: statusBody(404, 'NotFound', 'the server could not find the requested resource') };
    // Core Namespaces (cluster-scoped) and apps/v1 Deployments, for the guard's reads.
    if (parts[0] === 'api' && parts[1] === 'v1' && parts[2] === 'namespaces' && parts.length <= 4) {
      return this.resource(req, res, url, isWatch, body, record, { plural: 'namespaces', version: 'v1', namespace: parts.length === 4 ? '' : undefined, name: parts[3] });
    }
    if (parts[0] === 'apis' && parts[1] === 'apps' && parts[2] === 'v1' && parts.length > 3) {
      const namespaced = parts[3] === 'namespaces';
      const plural = namespaced ? parts[5] : parts[3];
      if (plural !== 'deployments' || parts.length > (namespaced ? 7 : 4)) return notFound;
      return this.resource(req, res, url, isWatch, body, record, { plural, version: 'v1', namespace: namespaced ? parts[4] : undefined, name: namespaced ? parts[6] : undefined });
    }
    if (parts[0] === 'api' && parts[4] === 'events') return this.coreEvents(parts, req.method ?? 'GET', body);
    if (parts[0] === 'api') return routeCore(this.objects, req.method ?? 'GET', parts, url);
    if (parts[0] !== 'apis') return notFound;
    const served = this.servedVersions;
    const group = { kind: 'APIGroup', apiVersion: 'v1', name: GROUP, versions: served.map((version) => ({ groupVersion: `${GROUP}/${version}`, version })), preferredVersion: served[0] && { groupVersion: `${GROUP}/${served[0]}`, version: served[0] } };
    if (parts.length === 1) return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: served.length ? [group] : [] } };
    if (parts[1] !== GROUP || served.length === 0) return notFound;
    if (parts.length === 2) return { status: 200, body: group };
    const version = parts[2]!;
    if (!served.includes(version)) return notFound;
    if (parts.length === 3) {
      const resources = ['destinationrules', 'virtualservices', 'gateways', 'serviceentries', 'sidecars'].map((name) => ({ name, namespaced: true, kind: kindOf(name), verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }));
      return { status: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${GROUP}/${version}`, resources } };
    }
    const namespaced = parts[3] === 'namespaces';
    const namespace = namespaced ? parts[4] : undefined;
    const plural = namespaced ? parts[5] : parts[3];
    const name = namespaced ? parts[6] : undefined;
    if (plural === undefined || parts.length > (namespaced ? 7 : 4)) return notFound;
    return this.resource(req, res, url, isWatch, body, record, { plural, version, namespace, name });
  }

  /** One resource's collection or object: list, watch, create, get, update, patch, delete. */
  private resource(
    req: IncomingMessage, res: ServerResponse, url: URL, isWatch: boolean, body: unknown, record: RecordedRequest,
    target: { plural: string; version: string; namespace: string | undefined; name: string | undefined },
  ): Result | undefined {
    const { plural, version, namespace, name } = target;
    const method = req.method ?? 'GET';
    const present = (result: Result): Result => (result.status < 300 ? { ...result, body: this.objects.present(plural, version, result.body as Obj) } : result);
    if (name === undefined) {
      if (method === 'GET' && isWatch) {
        const timeout = url.searchParams.get('timeoutSeconds');
        this.watches.serve(req, res, {
          plural, version, namespace,
          resourceVersion: url.searchParams.get('resourceVersion') ?? '',
          bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true',
          timeoutSeconds: timeout === null ? undefined : Number(timeout),
        });
        record.status = 200;
        return undefined;
      }
      if (method === 'GET') return this.list(plural, version, namespace, url);
      const into = clusterScoped(plural) ? '' : namespace;
      if (method === 'POST' && into !== undefined) return present(this.objects.create(plural, into, body, url.searchParams.get('dryRun') === 'All'));
      return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} not allowed`) };
    }
    const ns = namespace!;
    switch (method) {
      case 'GET': {
        const found = this.objects.get(plural, ns, name);
        return found ? { status: 200, body: this.objects.present(plural, version, found) } : { status: 404, body: statusBody(404, 'NotFound', `${plural}.${GROUP} "${name}" not found`) };
      }
      case 'PUT':
        return present(this.objects.update(plural, ns, name, body));
      case 'PATCH':
        return present(this.objects.patch(plural, ns, name, record.contentType ?? '', body));
      case 'DELETE':
        return present(this.objects.remove(plural, ns, name, body));
      default:
        return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} not allowed`) };
    }
  }

  /** Only what the webhook sends to the core API: Events, created and listed. */
  private coreEvents(parts: string[], method: string, body: unknown): Result {
    const [, version, namespaces, namespace, resource, name] = parts;
    if (version !== 'v1' || namespaces !== 'namespaces' || namespace === undefined || resource !== 'events' || name !== undefined) {
      return { status: 404, body: statusBody(404, 'NotFound', 'the server could not find the requested resource') };
    }
    if (method === 'GET') return { status: 200, body: { apiVersion: 'v1', kind: 'EventList', metadata: {}, items: this.events.filter((event) => (event.metadata as { namespace?: string }).namespace === namespace) } };
    if (method !== 'POST') return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} not allowed`) };
    const event = structuredClone(body) as Obj & { metadata?: { name?: string; generateName?: string; namespace?: string } };
    const metadata = event.metadata ?? {};
    if ((metadata.namespace ?? namespace) !== namespace) return { status: 400, body: statusBody(400, 'BadRequest', 'the namespace of the object does not match the namespace of the request') };
    if (typeof event.involvedObject !== 'object' || event.involvedObject === null) return { status: 422, body: statusBody(422, 'Invalid', 'involvedObject is required') };
    const stored = { ...event, metadata: { ...metadata, namespace, name: metadata.name ?? `${metadata.generateName ?? ''}${(this.events.length + 1).toString(36).padStart(5, '0')}` } };
    this.events.push(stored);
    return { status: 201, body: stored };
  }

  /** A list, paged when `limit` is given (the continue token is the next offset plus the snapshot's resourceVersion). */
  private list(plural: string, version: string, namespace: string | undefined, url: URL): Result {
    const all = this.objects.list(plural, namespace);
    const limit = Number(url.searchParams.get('limit') ?? 0);
    const token = url.searchParams.get('continue');
    let offset = 0;
    let rv = this.objects.rv;
    if (token) [offset, rv] = token.split(':').map(Number) as [number, number];
    const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const next = limit > 0 && offset + limit < all.length ? `${offset + limit}:${rv}` : undefined;
    return {
      status: 200,
      body: {
        apiVersion: apiVersionOf(plural, version),
        kind: `${kindOf(plural)}List`,
        metadata: { resourceVersion: String(rv), ...(next ? { continue: next } : {}) },
        items: items.map((item) => this.objects.present(plural, version, item)),
      },
    };
  }

  private takeFault(record: RecordedRequest): number | undefined {
    const rule = this.faults.find((f) => f.count > 0 && record.watch === (f.watch ?? false) && matches(record, f.method, f.path));
    if (!rule) return undefined;
    rule.count -= 1;
    this.faults = this.faults.filter((f) => f.count > 0);
    return rule.status;
  }

  private async delay(): Promise<void> {
    const latency = this.latencyMs;
    const ms = typeof latency === 'number' ? latency : typeof latency === 'function' ? latency() : latency.min + Math.random() * (latency.max - latency.min);
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.delays.delete(timer);
        resolve();
      }, ms);
      this.delays.set(timer, resolve);
    });
  }
}

function matches(record: RecordedRequest, method?: string, path?: string | RegExp): boolean {
  if (method !== undefined && record.method !== method) return false;
  if (path === undefined) return true;
  return typeof path === 'string' ? record.path.includes(path) : path.test(record.path);
}

function send(res: ServerResponse, record: RecordedRequest, result: Result): void {
  record.status = result.status;
  if (res.destroyed || res.headersSent) return;
  res.writeHead(result.status, { 'content-type': 'application/json' }).end(JSON.stringify(result.body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`request body is not JSON: ${text.slice(0, 80)}`);
  }
}
