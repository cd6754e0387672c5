// One-shot reads of every DestinationRule and VirtualService in the cluster,
// for the offline CLI's `check --cluster`: discovery, then a paged list of all namespaces.
import type { KubeConfig } from '@kubernetes/client-node';
import type { DestinationRule } from '../../rules/types.js';
import { DestinationRuleClient } from './client.js';
import { discoverIstioVersion } from './discovery.js';
import type { VirtualServiceObject } from '../routing.js';
import { KeepAliveAgents } from './keep-alive.js';
import { virtualServiceSource } from './sources.js';

/** Rejects with IstioNotInstalledError when Istio's CRDs are missing, or with an Error naming the failure. */
export async function listAllDestinationRules(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<DestinationRule[]> {
  const version = await discoverIstioVersion(kubeConfig, Math.min(timeoutMs, 10_000));
  const client = new DestinationRuleClient(kubeConfig, version);
  try {
    const { items } = await client.list(undefined, timeoutMs);
    return items;
  } finally {
    client.close();
  }
}

/** One-shot read of every VirtualService (`check --cluster`: which routes an input DestinationRule would break). */
export async function listAllVirtualServices(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<VirtualServiceObject[]> {
  const version = await discoverIstioVersion(kubeConfig, Math.min(timeoutMs, 10_000));
  const agents = new KeepAliveAgents();
  try {
    return (await virtualServiceSource(kubeConfig, version, agents).list(undefined, timeoutMs)).items;
  } finally {
    agents.close();
  }
}
