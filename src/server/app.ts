// The HTTP layer without TLS: supertest drives it directly, serve() wraps it in HTTPS.
//
// Performance (bench/, README "Performance"): the two admission endpoints are
// an express Router dispatched in front of the express app. The app's own
// dispatch (app.handle) re-parents every req and res with
// Object.setPrototypeOf, which deoptimises Node's HTTP and stream internals
// for the rest of the request: measured at ~70 µs of CPU per review on Node
// 20, more than the whole bare-HTTPS baseline. A Router routes the same way
// (same paths, methods, OPTIONS answers, query strings ignored) without it.
// The handlers use only node:http's req/res, and answer with writeHead/end
// instead of express's res.send/res.type machinery.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { admissionResponse, BadReviewError, parseAdmissionReview, requestObjectName, type AdmissionRequest, type AdmissionVerdict } from './admission.js';
import { BodyError, readJsonBody } from './body.js';
import type { AppDeps } from './deps.js';
import type { WebhookName } from './metrics.js';
import { reviewGuard } from './review-guard.js';
import { reviewDeployment } from './review-mutate.js';
import { reviewVirtualService } from './review-validate.js';
import { DirectReads } from './review-refresh.js';
import { routes } from './routes.js';
import { clip as clipText, singleLine } from '../rules/text.js';
import { warnInstead, warnSuffix, type Enforcement } from './enforcement.js';

type Reviewer = (request: AdmissionRequest, deps: AppDeps) => Promise<AdmissionVerdict>;

/** Every admission endpoint; each is served at its path and at `<path>/warn` (SPEC §11). A new webhook is a row here. */
const admissionEndpoints: ReadonlyArray<{ webhook: WebhookName; path: string; review: Reviewer }> = [
  { webhook: 'mutate', path: routes.mutate, review: reviewDeployment },
  { webhook: 'validate', path: routes.validate, review: reviewVirtualService },
  { webhook: 'guard', path: routes.guard, review: reviewGuard },
];

export function createApp(appDeps: AppDeps): RequestListener {
  // Direct reads are shared between this app's reviews (and owned by it, not by the module).
  const deps: AppDeps = appDeps.directReads ? appDeps : { ...appDeps, directReads: new DirectReads(appDeps.store, { maxNamespacesPerReview: appDeps.maxDirectReads ?? 16, logger: appDeps.logger }) };
  // One count for both endpoints: the memory a review holds does not depend on which it is.
  const inFlight: InFlight = { count: 0, max: deps.maxInFlight ?? 32 };
  // The hot path: every admission review.
  const reviews = express.Router();
  for (const { webhook, path, review } of admissionEndpoints) {
    reviews.post(path, reviewEndpoint(webhook, review, deps, inFlight, 'enforce'));
    // Namespaces labelled canary-webhook/enforcement=warn are sent here by the webhook configurations.
    reviews.post(`${path}${warnSuffix}`, reviewEndpoint(webhook, review, deps, inFlight, 'warn'));
  }

  // Everything else: probes, metrics, 404s.
  const app = express();
  // Both cost time on every request and tell a client nothing it needs.
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.get(routes.healthz, (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get(routes.readyz, (_req, res) => {
    if (deps.isShuttingDown()) return void res.status(503).type('text/plain').send('shutting down\n');
    if (!deps.store.isReady()) return void res.status(503).type('text/plain').send('caches not synced yet (DestinationRules, VirtualServices, Namespaces)\n');
    res.type('text/plain').send('ok\n');
  });
  app.get(routes.metrics, async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send(`no route for ${req.method} ${req.path}: use POST ${routes.mutate}, ${routes.validate} or ${routes.guard}\n`);
  });

  return (req, res) => {
    const routeRequest = reviews as unknown as (req: IncomingMessage, res: ServerResponse, next: NextFunction) => void;
    routeRequest(req, res, (error?: unknown) => {
      // No admission route took it (the router passes null or undefined): the express app answers.
      if (!error || error === 'route' || error === 'router') return void app(req, res);
      // Unreachable by design (the handlers catch everything); answered as express's final handler would.
      deps.logger.error({ err: error }, 'admission handler failed');
      if (!res.headersSent) sendText(res, 500, 'internal error\n');
      else res.destroy();
    });
  };
}

interface InFlight { count: number; max: number }

function reviewEndpoint(webhook: WebhookName, review: Reviewer, deps: AppDeps, inFlight: InFlight, enforcement: Enforcement) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedNs = process.hrtime.bigint();
    // Counted from the first byte: a body being read holds memory as much as a review does.
    if (inFlight.count >= inFlight.max) {
      deps.metrics.observeReview(webhook, 'unknown', 'throttled', elapsedSeconds(startedNs));
      deps.logger.debug({ webhook, inFlight: inFlight.count }, 'too many reviews in flight; answered 429');
      // The body is not read: Node discards it before the connection is reused.
      req.resume();
      closeIfShuttingDown(res, deps);
      const text = `canary-webhook has ${inFlight.max} reviews in flight (--max-in-flight); retry\n`;
      res.writeHead(429, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Retry-After': '1' });
      res.end(text);
      return;
    }
    inFlight.count += 1;
    try {
      await answerReview(webhook, review, deps, req, res, startedNs, enforcement);
    } finally {
      inFlight.count -= 1;
    }
  };
}

async function answerReview(webhook: WebhookName, review: Reviewer, deps: AppDeps, req: IncomingMessage, res: ServerResponse, startedNs: bigint, enforcement: Enforcement): Promise<void> {
  let parsed: ReturnType<typeof parseAdmissionReview>;
  try {
    parsed = parseAdmissionReview(await readJsonBody(req, deps.maxBodyBytes, deps.bodyIdleTimeoutMs));
  } catch (error) {
    const statusCode = error instanceof BodyError ? error.statusCode : 400;
    const message = error instanceof BodyError || error instanceof BadReviewError ? error.message : 'could not read the AdmissionReview';
    deps.metrics.observeReview(webhook, 'unknown', 'bad_request', elapsedSeconds(startedNs));
    deps.logger.info({ webhook, status: statusCode, reason: message }, 'bad admission request');
    closeIfShuttingDown(res, deps);
    sendText(res, statusCode, `${message}\n`);
    return;
  }
  const { apiVersion, request } = parsed;
  // Read before the review: it may drop request.object before it waits on the network.
  const logged = {
    uid: clip(request.uid),
    kind: typeof request.kind?.kind === 'string' ? clip(request.kind.kind) : undefined,
    object: clip(requestObjectName(request)),
    // A metric label from the body must come from a fixed set: free text would grow the registry without bound.
    operation: typeof request.operation === 'string' && admissionOperations.has(request.operation) ? request.operation : 'unknown',
  };
  let reviewed: AdmissionVerdict;
  let failed = false;
  try {
    reviewed = await review(request, deps);
  } catch (error) {
    // A rule must never throw; if one does, the object still gets a clean,
    // explained denial rather than an HTTP 500 the API server would retry.
    deps.logger.error({ uid: logged.uid, err: error }, 'review failed unexpectedly');
    failed = true;
    reviewed = { allowed: false, message: `canary-webhook could not review this object: ${(error as Error).message}` };
  }
  const verdict = enforcement === 'warn' ? warnInstead(reviewed) : reviewed;
  const answer = admissionResponse(apiVersion, request.uid, verdict);
  closeIfShuttingDown(res, deps);
  const json = JSON.stringify(answer);
  // The headers express's res.type('application/json').send(string) would set.
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);

  const durationSeconds = elapsedSeconds(startedNs);
  const { operation } = logged;
  // A would-be denial in warn mode is counted apart, so a team sees what enforcing would block.
  const result = failed ? 'error' : !reviewed.allowed ? (verdict.allowed ? 'warned' : 'denied') : verdict.patch && verdict.patch.length > 0 ? 'patched' : 'allowed';
  deps.metrics.observeReview(webhook, operation, result, durationSeconds);
  // Every field below comes from the body: clipped, so one review cannot write a megabyte log line.
  deps.logger.info({
    uid: logged.uid,
    webhook,
    kind: logged.kind,
    object: logged.object,
    operation,
    allowed: verdict.allowed,
    ...(enforcement === 'warn' ? { enforcement } : {}),
    // Why, at info level: `allowed: false` alone sends the operator to reproduce the review.
    ...(reviewed.allowed ? {} : { reason: clipReason(reviewed.message ?? 'denied') }),
    patchBytes: answer.response.patch ? Buffer.byteLength(answer.response.patch, 'base64') : 0,
    warnings: verdict.warnings?.length ?? 0,
    durationMs: Math.round(durationSeconds * 1e6) / 1e3,
  }, 'review');
}

/**
 * Checked when the answer is sent, not when the request arrived: a review
 * that was in flight at SIGTERM must tell the API server not to reuse the
 * connection, or its next request races the drain's close and fails.
 */
function closeIfShuttingDown(res: ServerResponse, deps: AppDeps): void {
  if (deps.isShuttingDown()) res.setHeader('Connection', 'close');
}

function sendText(res: ServerResponse, statusCode: number, text: string): void {
  res.writeHead(statusCode, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const admissionOperations = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Log fields come from the body: bounded, so one review cannot write a megabyte line. */
function clip(text: string): string {
  return clipText(text, 256);
}

function clipReason(message: string): string {
  return clipText(singleLine(message.replace(/\n/g, '; ')), 512);
}

function elapsedSeconds(startedNs: bigint): number {
  return Number(process.hrtime.bigint() - startedNs) / 1e9;
}
