// Thin DestinationRule client over @kubernetes/client-node 1.4's
// CustomObjectsApi: per-request timeouts (the generated client has none),
// paged lists, JSON Patch with an explicit content type, and error helpers
// that turn an ApiException (whose message embeds every response header)
// into one short line.
import {
  ApiException,
  CustomObjectsApi,
  Observable,
  PatchStrategy,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import type { Operation } from '../../rules/patch.js';
import type { DestinationRule } from '../../rules/types.js';
import { KeepAliveAgents } from './keep-alive.js';

export const ISTIO_GROUP = 'networking.istio.io';
export const DESTINATION_RULES = 'destinationrules';
const PAGE_SIZE = 500;

export interface ListResult {
  items: DestinationRule[];
  /** The list's resourceVersion: a watch from here misses nothing. */
  resourceVersion: string;
}

export class DestinationRuleClient {
  private readonly api: CustomObjectsApi;
  private readonly agents = new KeepAliveAgents();

  constructor(
    kubeConfig: KubeConfig,
    readonly version: string,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  get apiVersion(): string {
    return `${ISTIO_GROUP}/${this.version}`;
  }

  /** Path of the all-namespaces collection, for watches. */
  get collectionPath(): string {
    return `/apis/${ISTIO_GROUP}/${this.version}/${DESTINATION_RULES}`;
  }

  /** All DestinationRules of one namespace, or of all when `namespace` is undefined; paged. */
  async list(namespace: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<ListResult> {
    const items: DestinationRule[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    const base = { group: ISTIO_GROUP, version: this.version, plural: DESTINATION_RULES, limit: PAGE_SIZE };
    do {
      const options = requestOptions(timeoutMs, undefined, signal, this.agents);
      const page: unknown =
        namespace === undefined
          ? await this.api.listCustomObjectForAllNamespaces({ ...base, _continue: token }, options)
          : await this.api.listNamespacedCustomObject({ ...base, namespace, _continue: token }, options);
      const body = (page ?? {}) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const item of body.items ?? []) {
        const rule = this.asDestinationRule(item);
        if (rule) items.push(rule);
      }
      resourceVersion = body.metadata?.resourceVersion ?? resourceVersion;
      token = body.metadata?.continue || undefined;
    } while (token !== undefined);
    return { items, resourceVersion };
  }

  async create(rule: DestinationRule, timeoutMs: number, signal?: AbortSignal): Promise<DestinationRule> {
    const body = structuredClone(rule);
    body.apiVersion = this.apiVersion;
    body.kind = 'DestinationRule';
    delete body.metadata.resourceVersion;
    const created: unknown = await this.api.createNamespacedCustomObject(
      { group: ISTIO_GROUP, version: this.version, namespace: rule.metadata.namespace, plural: DESTINATION_RULES, body },
      requestOptions(timeoutMs, undefined, signal, this.agents),
    );
    return this.require(created);
  }

  /** JSON Patch (`application/json-patch+json`), chosen explicitly rather than left to the client's default. */
  async jsonPatch(namespace: string, name: string, operations: Operation[], timeoutMs: number, signal?: AbortSignal): Promise<DestinationRule> {
    const patched: unknown = await this.api.patchNamespacedCustomObject(
      { group: ISTIO_GROUP, version: this.version, namespace, plural: DESTINATION_RULES, name, body: operations },
      requestOptions(timeoutMs, PatchStrategy.JsonPatch, signal, this.agents),
    );
    return this.require(patched);
  }

  /** Delete, only if the object is still at `resourceVersion` (409 otherwise). */
  async delete(namespace: string, name: string, resourceVersion: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.api.deleteNamespacedCustomObject(
      { group: ISTIO_GROUP, version: this.version, namespace, plural: DESTINATION_RULES, name, body: { preconditions: { resourceVersion } } },
      requestOptions(timeoutMs, undefined, signal, this.agents),
    );
  }

  /** Close the pooled API connections. */
  close(): void {
    this.agents.close();
  }

  /** The object as the rules expect it, or undefined for something that is not a DestinationRule. */
  asDestinationRule(value: unknown): DestinationRule | undefined {
    if (typeof value !== 'object' || value === null) return undefined;
    const object = value as Partial<DestinationRule>;
    const meta = object.metadata;
    if (!meta || typeof meta.name !== 'string' || typeof meta.namespace !== 'string') return undefined;
    if (typeof object.spec !== 'object' || object.spec === null || Array.isArray(object.spec)) return undefined;
    return { ...object, apiVersion: object.apiVersion ?? this.apiVersion, kind: object.kind ?? 'DestinationRule' } as DestinationRule;
  }

  private require(value: unknown): DestinationRule {
    const rule = this.asDestinationRule(value);
    if (!rule) throw new Error('the API server answered a write with something that is not a DestinationRule');
    return rule;
  }
}

/**
 * Per-call options: an abort signal after `timeoutMs` (the generated client
 * waits forever on a hung API server) or when `signal` fires (close), and,
 * for patches, the content type; with `agents`, a pooled keep-alive connection.
 */
export function requestOptions(timeoutMs: number, contentType?: string, signal?: AbortSignal, agents?: KeepAliveAgents): ConfigurationOptions<ObservableMiddleware> {
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      // Authentication has already run and set a one-off agent: reuse a pooled one instead.
      const shared = agents?.shared(context.getAgent());
      if (shared) context.setAgent(shared);
      const timeout = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
      context.setSignal(signal ? AbortSignal.any([timeout, signal]) : timeout);
      if (contentType) context.setHeaderParam('Content-Type', contentType);
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

/** HTTP status of a failed API call; undefined when no response arrived (refused, reset, timed out). */
export function httpStatusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** One line for logs and denial messages. */
export function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    return `API server answered ${err.code}${status?.reason ? ` ${status.reason}` : ''}${status?.message ? `: ${status.message}` : ''}`;
  }
  if (err instanceof Error) {
    if (err.name === 'AbortError' || err.name === 'TimeoutError') return 'API server request timed out';
    return err.message.split('\n')[0] ?? err.name;
  }
  return String(err);
}

function parseStatus(body: unknown): { reason?: string; message?: string } | undefined {
  try {
    const value: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    return typeof value === 'object' && value !== null ? (value as { reason?: string; message?: string }) : undefined;
  } catch {
    return undefined;
  }
}
