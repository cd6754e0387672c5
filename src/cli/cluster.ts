// `--cluster`: the DestinationRules already in the cluster, read once through
// the same Kubernetes store code the webhook uses. Loaded lazily so a plain
// offline check never pays for @kubernetes/client-node.
import type { DestinationRule } from '../rules/types.js';
import type { VirtualServiceObject } from '../store/routing.js';

export async function clusterDestinationRules(kubeconfigPath: string | undefined, env: NodeJS.ProcessEnv): Promise<DestinationRule[]> {
  const { loadKubeConfig } = await import('../store/kube/config.js');
  const { listAllDestinationRules } = await import('../store/kube/list.js');
  const loaded = loadKubeConfig({ kubeconfigPath, env });
  if (!loaded) throw new Error('no cluster configured: give --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  return listAllDestinationRules(loaded.kubeConfig);
}

/** The cluster's VirtualServices: what `check --cluster` guards against (SPEC §7, §9). */
export async function clusterVirtualServices(kubeconfigPath: string | undefined, env: NodeJS.ProcessEnv): Promise<VirtualServiceObject[]> {
  const { loadKubeConfig } = await import('../store/kube/config.js');
  const { listAllVirtualServices } = await import('../store/kube/list.js');
  const loaded = loadKubeConfig({ kubeconfigPath, env });
  if (!loaded) throw new Error('no cluster configured: give --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  return listAllVirtualServices(loaded.kubeConfig);
}
