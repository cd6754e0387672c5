// Which networking.istio.io version to use: GET /apis/networking.istio.io and
// take the newest of v1 (Istio ≥ 1.22) > v1beta1 > v1alpha3 that it serves.
import { ApiException, HttpMethod, KubernetesObjectApi, type KubeConfig, type V1APIGroup } from '@kubernetes/client-node';
import { ISTIO_GROUP, describeError } from './client.js';

export const ISTIO_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'] as const;
export type IstioVersion = (typeof ISTIO_VERSIONS)[number];

/** The API server answered, and it serves none of the versions this webhook speaks. */
export class IstioNotInstalledError extends Error {
  constructor(detail?: string) {
    super(
      'Istio CRDs not installed: the API server serves no networking.istio.io/v1, v1beta1 or v1alpha3' +
        (detail ? ` (${detail})` : ''),
    );
    this.name = 'IstioNotInstalledError';
  }
}

/**
 * GET of one API group's discovery document through the client's own
 * request pipeline (auth, TLS, proxy), which has no method for arbitrary
 * groups; `requestPromise` is the protected hook KubernetesObjectApi offers.
 */
class GroupDiscoveryApi extends KubernetesObjectApi {
  async group(name: string, timeoutMs: number): Promise<V1APIGroup> {
    const context = this.configuration.baseServer.makeRequestContext(`/apis/${encodeURIComponent(name)}`, HttpMethod.GET);
    context.setHeaderParam('Accept', 'application/json');
    context.setSignal(AbortSignal.timeout(timeoutMs));
    return this.requestPromise<V1APIGroup>(context, 'V1APIGroup');
  }
}

export function newestServedVersion(served: readonly string[]): IstioVersion | undefined {
  return ISTIO_VERSIONS.find((version) => served.includes(version));
}

/**
 * The networking.istio.io version to use. Rejects with IstioNotInstalledError
 * when the group is missing (404) or serves none of the known versions, and
 * with a plain Error naming the server when it cannot be asked at all.
 */
export async function discoverIstioVersion(kubeConfig: KubeConfig, timeoutMs = 5_000): Promise<IstioVersion> {
  const api = kubeConfig.makeApiClient(GroupDiscoveryApi);
  let group: V1APIGroup;
  try {
    group = await api.group(ISTIO_GROUP, timeoutMs);
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) throw new IstioNotInstalledError();
    const server = kubeConfig.getCurrentCluster()?.server ?? 'the configured cluster';
    throw new Error(`cannot discover networking.istio.io at ${server}: ${describeError(err)}`);
  }
  const served = (group.versions ?? []).map((v) => v.version);
  const version = newestServedVersion(served);
  if (!version) throw new IstioNotInstalledError(served.length ? `it serves ${served.join(', ')}` : undefined);
  return version;
}
