// Core v1 for the fake API server: Pods (list with labelSelector, get) and
// Services (get, list), stored in the same FakeObjects (plurals `pods`,
// `services`) so tests put them with `api.put('pods', …)`.
import { statusBody, type FakeObjects, type Obj, type Result } from './fake-objects.js';

const CORE_KINDS: Record<string, string> = { pods: 'Pod', services: 'Service' };

/** `/api`, `/api/v1`, `/api/v1/namespaces/NS/PLURAL[/NAME]`. */
export function routeCore(objects: FakeObjects, method: string, parts: readonly string[], url: URL): Result {
  const notFound: Result = { status: 404, body: statusBody(404, 'NotFound', 'the server could not find the requested resource') };
  if (parts.length === 1) return { status: 200, body: { kind: 'APIVersions', versions: ['v1'] } };
  if (parts[1] !== 'v1') return notFound;
  if (parts.length === 2) {
    const resources = Object.entries(CORE_KINDS).map(([name, kind]) => ({ name, namespaced: true, kind, verbs: ['get', 'list'] }));
    return { status: 200, body: { kind: 'APIResourceList', groupVersion: 'v1', resources } };
  }
  if (parts[2] !== 'namespaces' || parts.length < 5 || parts.length > 6) return notFound;
  const namespace = parts[3]!;
  const plural = parts[4]!;
  const kind = CORE_KINDS[plural];
  if (!kind) return notFound;
  if (method !== 'GET') return { status: 405, body: statusBody(405, 'MethodNotAllowed', `${method} not allowed`) };
  const present = (object: Obj): Obj => ({ ...object, apiVersion: 'v1', kind });
  const name = parts[5];
  if (name !== undefined) {
    const found = objects.get(plural, namespace, name);
    return found ? { status: 200, body: present(found) } : { status: 404, body: statusBody(404, 'NotFound', `${plural} "${name}" not found`, { name, kind: plural }) };
  }
  let selector: Array<[string, '=' | '!=', string]>;
  try {
    selector = parseSelector(url.searchParams.get('labelSelector') ?? '');
  } catch (error) {
    return { status: 400, body: statusBody(400, 'BadRequest', (error as Error).message) };
  }
  const all = objects.list(plural, namespace).filter((object) => {
    const labels = (object.metadata?.labels ?? {}) as Record<string, string>;
    return selector.every(([key, op, value]) => (op === '=' ? labels[key] === value : labels[key] !== value));
  });
  const limit = Number(url.searchParams.get('limit') ?? 0);
  const offset = Number(url.searchParams.get('continue') ?? 0);
  const items = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
  const next = limit > 0 && offset + limit < all.length ? String(offset + limit) : undefined;
  return {
    status: 200,
    body: { apiVersion: 'v1', kind: `${kind}List`, metadata: { resourceVersion: String(objects.rv), ...(next ? { continue: next } : {}) }, items: items.map(present) },
  };
}

/** Equality-based selectors (`a=b`, `a==b`, `a!=b`), as the webhook sends them; anything else is a 400 here. */
function parseSelector(text: string): Array<[string, '=' | '!=', string]> {
  if (text === '') return [];
  return text.split(',').map((term) => {
    const match = /^([^=!]+)(==|=|!=)([^=!]*)$/.exec(term);
    if (!match) throw new Error(`unable to parse requirement: ${term}`);
    return [match[1]!, match[2] === '!=' ? '!=' : '=', match[3]!];
  });
}
