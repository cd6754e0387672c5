// The storage half of the fake API server: objects of networking.istio.io
// resources, one global resourceVersion counter, an event log for watches,
// and the write semantics the client relies on (409 AlreadyExists, 409
// Conflict on a stale resourceVersion, 422 when a JSON Patch `test` fails,
// 415 for strategic merge patch, which CRDs do not support).
import { randomUUID } from 'node:crypto';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type Obj = { [key: string]: unknown; metadata?: { [key: string]: unknown } };
export interface Result {
  status: number;
  body: unknown;
}
export interface StoredEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  plural: string;
  namespace: string;
  rv: number;
  object: Obj;
}

export const GROUP = 'networking.istio.io';
const KINDS: Record<string, string> = {
  destinationrules: 'DestinationRule',
  virtualservices: 'VirtualService',
  gateways: 'Gateway',
  serviceentries: 'ServiceEntry',
  sidecars: 'Sidecar',
  namespaces: 'Namespace',
  deployments: 'Deployment',
};

/** apiVersion of a resource as served: core Namespaces, apps Deployments, Istio's group for the rest. */
export function apiVersionOf(plural: string, version: string): string {
  if (plural === 'namespaces') return 'v1';
  if (plural === 'deployments') return 'apps/v1';
  return `${GROUP}/${version}`;
}

/** Cluster-scoped resources are stored under namespace ''. */
export const clusterScoped = (plural: string): boolean => plural === 'namespaces';
export const kindOf = (plural: string): string =>
  KINDS[plural] ?? plural.charAt(0).toUpperCase() + plural.slice(1).replace(/s$/, '');

export function statusBody(code: number, reason: string, message: string, details: Obj = {}): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code };
}

const clone = <T>(value: T): T => structuredClone(value);
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

export class FakeObjects {
  /** The global resourceVersion counter (etcd's revision). */
  rv = 100;
  /** Watches from a resourceVersion below this answer 410 Gone. */
  compactedRv = 0;
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly log: StoredEvent[] = [];
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  /** Objects as a client of `version` sees them (apiVersion and kind filled in). */
  present(plural: string, version: string, object: Obj): Obj {
    const presented: Obj = { ...clone(object), apiVersion: apiVersionOf(plural, version), kind: kindOf(plural) };
    if (clusterScoped(plural) && presented.metadata) delete presented.metadata.namespace;
    return presented;
  }

  list(plural: string, namespace?: string): Obj[] {
    const all = [...(this.store.get(plural)?.values() ?? [])];
    const items = namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
    return items.map(clone).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  get(plural: string, namespace: string, name: string): Obj | undefined {
    const found = this.bucket(plural).get(`${namespace}/${name}`);
    return found && clone(found);
  }

  create(plural: string, namespace: string, body: unknown, dryRun = false): Result {
    if (!isObj(body) || !isObj(body.metadata)) return this.invalid(plural, '', 'metadata: Required value');
    const name = body.metadata.name;
    if (typeof name !== 'string' || name === '') return this.invalid(plural, '', 'metadata.name: Required value: name is required');
    if (body.metadata.namespace !== undefined && body.metadata.namespace !== namespace) {
      return { status: 400, body: statusBody(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request') };
    }
    if (body.metadata.resourceVersion) {
      return { status: 500, body: statusBody(500, 'InternalError', 'resourceVersion should not be set on objects to be created') };
    }
    if (this.bucket(plural).has(`${namespace}/${name}`)) {
      return { status: 409, body: statusBody(409, 'AlreadyExists', `${plural}.${GROUP} "${name}" already exists`, { name, group: GROUP, kind: plural }) };
    }
    const object = clone(body);
    delete object.apiVersion;
    delete object.kind;
    Object.assign(object.metadata!, { namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString(), generation: 1 });
    if (dryRun) return { status: 201, body: object };
    return { status: 201, body: this.commit('ADDED', plural, object) };
  }

  update(plural: string, namespace: string, name: string, body: unknown): Result {
    const current = this.bucket(plural).get(`${namespace}/${name}`);
    if (!current) return this.notFound(plural, name);
    if (!isObj(body) || !isObj(body.metadata)) return this.invalid(plural, name, 'metadata: Required value');
    if (!body.metadata.resourceVersion) {
      return this.invalid(plural, name, 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    }
    if (body.metadata.resourceVersion !== current.metadata!.resourceVersion) return this.conflict(plural, name);
    return this.replace(plural, current, body);
  }

  patch(plural: string, namespace: string, name: string, contentType: string, body: unknown): Result {
    const current = this.bucket(plural).get(`${namespace}/${name}`);
    if (!current) return this.notFound(plural, name);
    let patched: Obj;
    if (contentType === 'application/json-patch+json') {
      if (!Array.isArray(body)) return { status: 400, body: statusBody(400, 'BadRequest', 'json patch must be an array') };
      try {
        patched = jsonpatch.applyPatch(clone(current), body as Operation[], true, true).newDocument;
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        return { status: 422, body: statusBody(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`) };
      }
    } else if (contentType === 'application/merge-patch+json') {
      patched = mergePatch(clone(current), body) as Obj;
    } else {
      return {
        status: 415,
        body: statusBody(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`),
      };
    }
    if (!isObj(patched) || !isObj(patched.metadata)) return this.invalid(plural, name, 'metadata: Required value');
    const rv = patched.metadata.resourceVersion;
    if (rv !== undefined && rv !== current.metadata!.resourceVersion) return this.conflict(plural, name);
    return this.replace(plural, current, patched);
  }

  remove(plural: string, namespace: string, name: string, body?: unknown): Result {
    const current = this.bucket(plural).get(`${namespace}/${name}`);
    if (!current) return this.notFound(plural, name);
    // DeleteOptions.preconditions, as the API server checks them.
    const wanted = isObj(body) && isObj(body.preconditions) ? body.preconditions.resourceVersion : undefined;
    if (wanted !== undefined && wanted !== current.metadata!.resourceVersion) return this.conflict(plural, name);
    return { status: 200, body: this.commit('DELETED', plural, clone(current)) };
  }

  /** Events after `rv`; 'gone' when `rv` predates the compaction point. */
  eventsSince(rv: number, plural: string, namespace?: string): StoredEvent[] | 'gone' {
    if (rv < this.compactedRv) return 'gone';
    return this.log.filter((e) => e.rv > rv && e.plural === plural && (namespace === undefined || e.namespace === namespace));
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private replace(plural: string, current: Obj, next: Obj): Result {
    const meta = current.metadata!;
    if (next.metadata!.name !== meta.name || next.metadata!.namespace !== meta.namespace) {
      return this.invalid(plural, String(meta.name), 'metadata.name, metadata.namespace: field is immutable');
    }
    const object = clone(next);
    delete object.apiVersion;
    delete object.kind;
    const specChanged = JSON.stringify(object.spec) !== JSON.stringify(current.spec);
    Object.assign(object.metadata!, {
      uid: meta.uid,
      creationTimestamp: meta.creationTimestamp,
      generation: Number(meta.generation ?? 1) + (specChanged ? 1 : 0),
    });
    return { status: 200, body: this.commit('MODIFIED', plural, object) };
  }

  private commit(type: StoredEvent['type'], plural: string, object: Obj): Obj {
    this.rv += 1;
    object.metadata!.resourceVersion = String(this.rv);
    const namespace = String(object.metadata!.namespace);
    const key = `${namespace}/${String(object.metadata!.name)}`;
    if (type === 'DELETED') this.bucket(plural).delete(key);
    else this.bucket(plural).set(key, object);
    const event: StoredEvent = { type, plural, namespace, rv: this.rv, object: clone(object) };
    this.log.push(event);
    for (const listener of [...this.listeners]) listener(event);
    return clone(object);
  }

  private bucket(plural: string): Map<string, Obj> {
    let bucket = this.store.get(plural);
    if (!bucket) this.store.set(plural, (bucket = new Map()));
    return bucket;
  }

  private notFound(plural: string, name: string): Result {
    return { status: 404, body: statusBody(404, 'NotFound', `${plural}.${GROUP} "${name}" not found`, { name, group: GROUP, kind: plural }) };
  }

  private conflict(plural: string, name: string): Result {
    const message = `Operation cannot be fulfilled on ${plural}.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
    return { status: 409, body: statusBody(409, 'Conflict', message, { name, group: GROUP, kind: plural }) };
  }

  private invalid(plural: string, name: string, message: string): Result {
    return { status: 422, body: statusBody(422, 'Invalid', `${kindOf(plural)}.${GROUP} "${name}" is invalid: ${message}`) };
  }
}

function keyOf(object: Obj): string {
  return `${String(object.metadata?.namespace)}/${String(object.metadata?.name)}`;
}

/** RFC 7386 JSON Merge Patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const result: Obj = isObj(target) ? target : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
