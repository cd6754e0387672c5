// Standalone mode has no watches: what a review admits becomes the memory
// store's state (VirtualServices for the guard, Deployments for the
// Deployment-delete check and the readiness check, DestinationRule edits). A cluster store has no
// `recordAdmitted` and learns the same from its watches. Dry runs change nothing.
import type { AdmissionRequest } from './admission.js';
import type { AppDeps } from './deps.js';

export function recordAdmitted(
  deps: AppDeps,
  request: AdmissionRequest,
  kind: 'VirtualService' | 'Deployment' | 'DestinationRule',
  namespace: string,
  object: unknown,
): void {
  const record = deps.store.routing?.recordAdmitted;
  const operation = request.operation;
  if (!record || request.dryRun === true || (operation !== 'CREATE' && operation !== 'UPDATE' && operation !== 'DELETE')) return;
  // A DELETE without the stored object (API servers before 1.15 send none) still names what went away.
  if (operation === 'DELETE' && (typeof object !== 'object' || object === null || Array.isArray(object))) object = {};
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return;
  const metadata = (object as { metadata?: unknown }).metadata;
  const meta = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {};
  const name = typeof meta.name === 'string' && meta.name !== '' ? meta.name : typeof request.name === 'string' ? request.name : undefined;
  if (name === undefined) return;
  try {
    record.call(deps.store.routing, kind, operation, { ...object, metadata: { ...meta, name, namespace } });
  } catch (error) {
    deps.logger.warn({ uid: request.uid, err: (error as Error).message }, 'could not record the admitted object in memory');
  }
}
