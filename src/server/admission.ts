// The AdmissionReview envelope (SPEC §5): parsing the untrusted body and
// building the answer in the version that was asked.
import type { Operation } from 'fast-json-patch';
import { jsonTypeOf } from '../rules/text.js';
import type { JsonObject } from '../rules/types.js';

export const admissionVersions = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof admissionVersions)[number];

export interface GroupVersionKind { group?: unknown; version?: unknown; kind?: unknown }
export interface GroupVersionResource { group?: unknown; version?: unknown; resource?: unknown }

/** The request fields this service reads; everything is `unknown` until checked. */
export interface AdmissionRequest {
  uid: string;
  kind?: GroupVersionKind;
  resource?: GroupVersionResource;
  subResource?: unknown;
  namespace?: unknown;
  name?: unknown;
  operation?: unknown;
  object?: unknown;
  oldObject?: unknown;
  dryRun?: unknown;
}

export interface AdmissionVerdict {
  allowed: boolean;
  /** Denial text shown by kubectl. */
  message?: string;
  patch?: Operation[];
  warnings?: string[];
}

export class BadReviewError extends Error {}

export function parseAdmissionReview(body: unknown): { apiVersion: AdmissionApiVersion; request: AdmissionRequest } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadReviewError('body is not an AdmissionReview: expected a JSON object');
  }
  const review = body as Record<string, unknown>;
  if (review.kind !== 'AdmissionReview') {
    throw new BadReviewError(`body is not an AdmissionReview: kind is ${preview(review.kind)}`);
  }
  const apiVersion = review.apiVersion;
  if (!admissionVersions.includes(apiVersion as AdmissionApiVersion)) {
    throw new BadReviewError(`unsupported AdmissionReview apiVersion ${preview(apiVersion)}: use admission.k8s.io/v1 or v1beta1`);
  }
  const request = review.request;
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new BadReviewError('AdmissionReview has no request');
  }
  const uid = (request as Record<string, unknown>).uid;
  if (typeof uid !== 'string' || uid === '') {
    throw new BadReviewError('AdmissionReview request has no uid');
  }
  return { apiVersion: apiVersion as AdmissionApiVersion, request: request as AdmissionRequest };
}

/**
 * A short, safe rendering of an untrusted value for an error text: the body
 * is the client's, so its size (a 3 MB string) and depth (JSON.stringify
 * overflows the stack on 100,000 nested lists) must not reach the answer or
 * the log line.
 */
function preview(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value) ?? String(value);
    return text.length <= 60 ? text : `${text.slice(0, 57)}...`;
  }
  return Array.isArray(value) ? 'a list' : 'an object';
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; reason: string; message: string };
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

export function admissionResponse(apiVersion: AdmissionApiVersion, uid: string, verdict: AdmissionVerdict): AdmissionReviewResponse {
  const response: AdmissionReviewResponse['response'] = { uid, allowed: verdict.allowed };
  if (!verdict.allowed) {
    response.status = { code: 403, reason: 'Forbidden', message: verdict.message ?? 'denied' };
  }
  if (verdict.allowed && verdict.patch && verdict.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(verdict.patch)).toString('base64');
  }
  if (verdict.warnings && verdict.warnings.length > 0) response.warnings = verdict.warnings;
  return { apiVersion, kind: 'AdmissionReview', response };
}

/** `request.namespace` wins: `kubectl apply` often leaves `metadata.namespace` empty. */
export function requestNamespace(request: AdmissionRequest): string {
  if (typeof request.namespace === 'string' && request.namespace !== '') return request.namespace;
  const metadata = (request.object as { metadata?: { namespace?: unknown } } | null | undefined)?.metadata;
  return typeof metadata?.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default';
}

/** `namespace/name` for logs, tolerant of junk. */
export function requestObjectName(request: AdmissionRequest): string {
  const metadata = (request.object as { metadata?: { name?: unknown; generateName?: unknown } } | null | undefined)?.metadata;
  const name = typeof request.name === 'string' && request.name !== '' ? request.name
    : typeof metadata?.name === 'string' ? metadata.name
    : typeof metadata?.generateName === 'string' ? `${metadata.generateName}*` : '';
  return `${requestNamespace(request)}/${name}`;
}

export interface ReviewTarget { group: string; kind: string; resource: string }

/**
 * The CREATE or UPDATE object an endpoint reviews, or the verdict when there
 * is nothing for it to review: anything it does not serve passes unchanged,
 * and a missing or non-object `request.object` is a clean denial.
 */
export function reviewSubject(
  request: AdmissionRequest,
  target: ReviewTarget,
): { operation: 'CREATE' | 'UPDATE'; object: JsonObject } | { verdict: AdmissionVerdict } {
  const operation = request.operation;
  if (!concerns(request, target) || (operation !== 'CREATE' && operation !== 'UPDATE')) return { verdict: { allowed: true } };
  const object = request.object;
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    return { verdict: { allowed: false, message: `request.object must be a ${target.kind} object, got ${jsonTypeOf(object)}` } };
  }
  return { operation, object: object as JsonObject };
}

/** Does the request concern exactly this group/kind and resource (no subresource)? Anything else passes unchanged. */
export function concerns(request: AdmissionRequest, target: ReviewTarget): boolean {
  // `kind` and `resource` are untrusted: either may be null or a scalar (`?.` on a string is harmless).
  const kindMatches = request.kind?.group === target.group && request.kind?.kind === target.kind;
  const resourceMatches = request.resource === undefined
    || (request.resource?.group === target.group && request.resource?.resource === target.resource);
  const noSubresource = request.subResource === undefined || request.subResource === '';
  const object = request.object as { kind?: unknown } | null | undefined;
  // A request whose object says it is something else is not trusted to be what the envelope claims.
  const objectAgrees = object === null || object === undefined || typeof object !== 'object' || object.kind === undefined || object.kind === target.kind;
  return kindMatches && resourceMatches && noSubresource && objectAgrees;
}

