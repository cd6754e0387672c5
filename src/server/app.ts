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
import { routes } from './routes.js';
import { clip as clipText } from '../rules/text.js';

type Reviewer = (request: AdmissionRequest, deps: AppDeps) => Promise<AdmissionVerdict>;

export function createApp(deps: AppDeps): RequestListener {
  // The hot path: every admission review.
  const reviews = express.Router();
  reviews.post(routes.mutate, reviewEndpoint('mutate', reviewDeployment, deps));
  reviews.post(routes.validate, reviewEndpoint('validate', reviewVirtualService, deps));
  reviews.post(routes.guard, reviewEndpoint('guard', reviewGuard, deps));

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

function reviewEndpoint(webhook: WebhookName, review: Reviewer, deps: AppDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedNs = process.hrtime.bigint();
    let parsed: ReturnType<typeof parseAdmissionReview>;
    try {
      parsed = parseAdmissionReview(await readJsonBody(req, deps.maxBodyBytes));
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
    let verdict: AdmissionVerdict;
    try {
      verdict = await review(request, deps);
    } catch (error) {
      // A rule must never throw; if one does, the object still gets a clean,
      // explained denial rather than an HTTP 500 the API server would retry.
      deps.logger.error({ uid: clip(request.uid), err: error }, 'review failed unexpectedly');
      verdict = { allowed: false, message: `canary-webhook could not review this object: ${(error as Error).message}` };
    }
    const answer = admissionResponse(apiVersion, request.uid, verdict);
    closeIfShuttingDown(res, deps);
    const json = JSON.stringify(answer);
    // The headers express's res.type('application/json').send(string) would set.
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);

    const durationSeconds = elapsedSeconds(startedNs);
    // A metric label from the body must come from a fixed set: free text would grow the registry without bound.
    const operation = typeof request.operation === 'string' && admissionOperations.has(request.operation) ? request.operation : 'unknown';
    const result = !verdict.allowed ? 'denied' : verdict.patch && verdict.patch.length > 0 ? 'patched' : 'allowed';
    deps.metrics.observeReview(webhook, operation, result, durationSeconds);
    // Every field below comes from the body: clipped, so one review cannot write a megabyte log line.
    deps.logger.info({
      uid: clip(request.uid),
      webhook,
      kind: typeof request.kind?.kind === 'string' ? clip(request.kind.kind) : undefined,
      object: clip(requestObjectName(request)),
      operation,
      allowed: verdict.allowed,
      patchBytes: answer.response.patch ? Buffer.byteLength(answer.response.patch, 'base64') : 0,
      warnings: verdict.warnings?.length ?? 0,
      durationMs: Math.round(durationSeconds * 1e6) / 1e3,
    }, 'review');
  };
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

function elapsedSeconds(startedNs: bigint): number {
  return Number(process.hrtime.bigint() - startedNs) / 1e9;
}
