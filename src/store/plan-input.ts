// What the planner reads from a host index: the rules of the service's host
// and the wildcards covering it (a lookup by resolved host), and whether a
// name is taken in the namespace. Never the whole namespace, so planning a
// subset costs the same with 10 or 10,000 rules in it.
import type { PlanInput } from '../rules/subset-plan.js';
import type { SubsetRequest } from '../rules/types.js';
import type { HostIndex } from './host-index.js';

export function planInputFor(index: HostIndex, request: SubsetRequest): PlanInput {
  return {
    candidates: index.candidatesForHost(request.host),
    isNameTaken: (name) => index.get(request.namespace, name) !== undefined,
  };
}
