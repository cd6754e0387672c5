// The watch-fed DestinationRule cache: the generic list-then-watch loop
// (list-watch-cache.ts) folding every event into the host index.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { DestinationRule } from '../../rules/types.js';
import type { HostIndex } from '../host-index.js';
import type { DestinationRuleClient } from './client.js';
import { ListWatchCache, type ListSource } from './list-watch-cache.js';
import type { BackoffOptions } from './retry.js';

export { isNewer, type CacheStats } from './list-watch-cache.js';

export interface CacheOptions {
  kubeConfig: KubeConfig;
  client: DestinationRuleClient;
  index: HostIndex;
  logger: Logger;
  watchSilenceTimeoutMs: number;
  listTimeoutMs: number;
  backoff: BackoffOptions;
}

export class DestinationRuleCache extends ListWatchCache<DestinationRule> {
  constructor(options: CacheOptions) {
    const { client, index, ...rest } = options;
    super({ ...rest, source: destinationRuleSource(client), store: index });
  }
}

export function destinationRuleSource(client: DestinationRuleClient): ListSource<DestinationRule> {
  return {
    kind: 'DestinationRule',
    get watchPath() {
      return client.collectionPath;
    },
    list: (namespace, timeoutMs, signal) => client.list(namespace, timeoutMs, signal),
    convert: (raw) => client.asDestinationRule(raw),
  };
}
