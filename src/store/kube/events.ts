// Kubernetes Events on the DestinationRule for every subset write (SPEC §6),
// so `kubectl describe destinationrule reviews` shows who added a subset and
// for which Deployment. Best effort: an Event is posted after the write,
// never awaited by the review, capped in time and in number in flight, and
// a failure (no RBAC, API server slow) is a log line, nothing more.
import { hostname } from 'node:os';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { clip } from '../../rules/text.js';
import type { WrittenSubsets } from '../types.js';
import { describeError, requestOptions } from './client.js';

export const eventReasons = Object.freeze({ created: 'DestinationRuleCreated', appended: 'SubsetAdded' });
const component = 'canary-webhook';
/** events.k8s.io/v1 refuses notes over 1 kB; the core API keeps the same bound here. */
const MAX_MESSAGE_CHARS = 1024;

/** The Event for one write; `now` and `instance` are passed in so the result is a plain function of its inputs. */
export function eventFor(written: WrittenSubsets, now: Date, instance: string): CoreV1Event {
  const { destinationRule: rule } = written;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    // The API server picks the suffix; concurrent writes cannot collide on a name.
    metadata: { generateName: `${rule.metadata.name}.`, namespace: rule.metadata.namespace },
    involvedObject: {
      apiVersion: rule.apiVersion,
      kind: 'DestinationRule',
      name: rule.metadata.name,
      namespace: rule.metadata.namespace,
      uid: typeof rule.metadata.uid === 'string' ? rule.metadata.uid : undefined,
      resourceVersion: rule.metadata.resourceVersion,
    },
    reason: eventReasons[written.action],
    message: clip(describeWrite(written), MAX_MESSAGE_CHARS),
    type: 'Normal',
    source: { component },
    reportingComponent: component,
    reportingInstance: instance,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** `Added subset v2 (for Deployment shop-v2)`, as `kubectl describe` will show it. */
export function describeWrite({ action, subsets, deployments }: WrittenSubsets): string {
  const what = `${subsets.length === 1 ? 'subset' : 'subsets'} ${subsets.join(', ')}`;
  const why = deployments.length === 0 ? '' : ` for ${deployments.length === 1 ? 'Deployment' : 'Deployments'} ${deployments.join(', ')}`;
  return action === 'created' ? `Created by canary-webhook with ${what}${why}` : `Added ${what}${why}`;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Cap on one Event request; default 2,000 ms. */
  timeoutMs?: number;
  /** Events posted at once; more are dropped (with a log line). Default 8. */
  maxInFlight?: number;
  /** Who reports (the pod name in a cluster). */
  instance?: string;
}

export class DestinationRuleEvents {
  private readonly api: CoreV1Api;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly instance: string;
  private readonly stop = new AbortController();

  constructor(private readonly options: EventRecorderOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.maxInFlight = options.maxInFlight ?? 8;
    this.instance = options.instance ?? hostname();
  }

  /** Post the Event in the background. Never throws, never waits. */
  record(written: WrittenSubsets): void {
    const { logger } = this.options;
    const about = `${written.destinationRule.metadata.namespace}/${written.destinationRule.metadata.name}`;
    if (this.stop.signal.aborted) return;
    if (this.inFlight.size >= this.maxInFlight) {
      logger.warn({ destinationRule: about }, 'Kubernetes Event dropped: too many still being posted');
      return;
    }
    let body: CoreV1Event;
    try {
      body = eventFor(written, new Date(), this.instance);
    } catch (err) {
      logger.warn({ destinationRule: about, err: describeError(err) }, 'could not build the Kubernetes Event');
      return;
    }
    const posted = this.api
      .createNamespacedEvent({ namespace: written.destinationRule.metadata.namespace, body }, requestOptions(this.timeoutMs, undefined, this.stop.signal))
      .then(
        () => undefined,
        (err: unknown) => {
          // Most likely RBAC: the ClusterRole grants `create` on events; a trimmed one loses only this.
          logger.warn({ destinationRule: about, reason: body.reason, err: describeError(err) }, 'could not record Kubernetes Event');
        },
      )
      .finally(() => this.inFlight.delete(posted));
    this.inFlight.add(posted);
  }

  /** Resolves when every Event posted so far has been answered (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Abandon Events still in flight. */
  close(): void {
    this.stop.abort();
  }
}
