// The pure rules alone, in-process on one core: no HTTP, no JSON, no store.
// Mutation = mutateDeployment + diffPatch (what POST /mutate computes before
// the subset write); validation = validateVirtualService against the
// candidate DestinationRules (what POST /validate computes).
import { performance } from 'node:perf_hooks';
import { mutateDeployment } from '../src/rules/mutate.js';
import { diffPatch } from '../src/rules/patch.js';
import { defaultRuleSettings } from '../src/rules/types.js';
import { validateVirtualService } from '../src/rules/validate.js';
import { NAMESPACE, deploymentCreate, deploymentUpdate, destinationRules, virtualServiceReview } from './bodies.js';

interface RequestShape { operation: 'CREATE' | 'UPDATE'; object: unknown; oldObject: unknown }
// Through JSON, as the server receives them (the builders share sub-objects, a parsed body never does).
const requestOf = (review: Record<string, unknown>): RequestShape => (JSON.parse(JSON.stringify(review)) as { request: RequestShape }).request;

const settings = defaultRuleSettings;
const deployments = [requestOf(deploymentCreate('r1')), requestOf(deploymentUpdate('r2'))];
const services = [requestOf(virtualServiceReview('r3', 'CREATE', false)), requestOf(virtualServiceReview('r4', 'UPDATE', false))];
const candidates = destinationRules(4).filter((rule) => rule.metadata.name === 'reviews');

function measure(name: string, seconds: number, step: (i: number) => void): { name: string; opsPerSec: number } {
  for (let i = 0; i < 2_000; i++) step(i); // warm-up: let the JIT settle
  let count = 0;
  const startedAt = performance.now();
  const until = startedAt + seconds * 1000;
  let now = startedAt;
  while (now < until) {
    for (let i = 0; i < 200; i++) step(count++);
    now = performance.now();
  }
  return { name, opsPerSec: count / ((now - startedAt) / 1000) };
}

const seconds = Number(process.argv[2] ?? 2);
let sink = 0;
const mutations = measure('mutateDeployment + diffPatch', seconds, (i) => {
  const request = deployments[i & 1]!;
  const outcome = mutateDeployment(request.object, { operation: request.operation, namespace: NAMESPACE, oldObject: request.oldObject, settings });
  if (outcome.kind !== 'mutate') throw new Error(`expected a mutation, got ${JSON.stringify(outcome)}`);
  sink += diffPatch(request.object, outcome.mutated).length;
});
const validations = measure('validateVirtualService', seconds, (i) => {
  const request = services[i & 1]!;
  const result = validateVirtualService(request.object, candidates, { namespace: NAMESPACE, settings });
  if (result.problems.length > 0) throw new Error(`expected no problems, got ${JSON.stringify(result.problems)}`);
  sink += result.warnings.length;
});
process.stdout.write(`${JSON.stringify({ mutations, validations, sink })}\n`);
