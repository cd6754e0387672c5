// Realistic AdmissionReview bodies, shaped like what kube-apiserver sends
// after defaulting (so the objects carry the defaulted fields, managedFields
// and kubectl's last-applied annotation that a real `kubectl apply` brings).
import type { DestinationRule } from '../src/rules/types.js';

export const NAMESPACE = 'bookinfo';

type Json = Record<string, unknown>;

const userInfo = {
  username: 'kubernetes-admin',
  uid: 'aws-iam-authenticator:123456789012:AIDAEXAMPLEUSERID',
  groups: ['system:masters', 'system:authenticated'],
  extra: { 'accessKeyId': ['AKIAEXAMPLEKEYID'], 'arn': ['arn:aws:iam::123456789012:user/ci-deployer'] },
};

interface ReviewOptions {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  namespace: string;
  name: string;
  operation: 'CREATE' | 'UPDATE';
  object: Json;
  oldObject?: Json;
}

function review(options: ReviewOptions): Json {
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: options.uid,
      kind: options.kind,
      resource: options.resource,
      requestKind: options.kind,
      requestResource: options.resource,
      name: options.name,
      namespace: options.namespace,
      operation: options.operation,
      userInfo,
      object: options.object,
      oldObject: options.oldObject ?? null,
      dryRun: false,
      options: options.operation === 'CREATE'
        ? { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' }
        : { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' },
    },
  };
}

const deploymentKind = { group: 'apps', version: 'v1', kind: 'Deployment' };
const deploymentResource = { group: 'apps', version: 'v1', resource: 'deployments' };
const vsKind = { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' };
const vsResource = { group: 'networking.istio.io', version: 'v1', resource: 'virtualservices' };

/** Bookinfo's reviews Deployment of one version, opted in, after API-server defaulting. */
export function canaryDeployment(service: string, version: string, options: { stored?: boolean; imageTag?: string } = {}): Json {
  const name = `${service}-${version}`;
  const podLabels = { app: service, version };
  const applied = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE, labels: { app: service, version, 'canary-webhook/enabled': 'true' } },
    spec: { replicas: 3, selector: { matchLabels: podLabels }, template: { metadata: { labels: podLabels } } },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: NAMESPACE,
      ...(options.stored ? { uid: '6f1c2f55-2b0e-4a43-9d0f-3b3c9f1d2a10', resourceVersion: '48213377', generation: 4, creationTimestamp: '2025-06-02T09:14:31Z' } : {}),
      labels: { app: service, version, 'canary-webhook/enabled': 'true', 'app.kubernetes.io/part-of': 'bookinfo', team: 'storefront' },
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(applied)}\n`,
        'owner': 'storefront-team@example.com',
      },
      managedFields: [{
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: '2025-06-02T09:14:31Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} }, 'f:labels': { '.': {}, 'f:app': {}, 'f:version': {} } }, 'f:spec': { 'f:replicas': {}, 'f:selector': {}, 'f:template': { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {}, 'f:version': {} } } } } },
      }],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: podLabels },
      template: {
        metadata: { creationTimestamp: null, labels: podLabels, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9080' } },
        spec: {
          serviceAccountName: `bookinfo-${service}`,
          containers: [{
            name: service,
            image: `registry.istio.io/release/examples-bookinfo-${service}-${version}:${options.imageTag ?? '1.20.3'}`,
            imagePullPolicy: 'IfNotPresent',
            ports: [{ containerPort: 9080, protocol: 'TCP' }],
            env: [{ name: 'LOG_DIR', value: '/tmp/logs' }, { name: 'STAR_COLOR', value: 'black' }, { name: 'JAVA_OPTS', value: '-XX:MaxRAMPercentage=75' }],
            resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
            readinessProbe: { httpGet: { path: '/health', port: 9080, scheme: 'HTTP' }, initialDelaySeconds: 5, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'wlp-output', mountPath: '/opt/ibm/wlp/output' }],
            securityContext: { runAsUser: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
            terminationMessagePath: '/dev/termination-log',
            terminationMessagePolicy: 'File',
          }],
          volumes: [{ name: 'wlp-output', emptyDir: {} }, { name: 'tmp', emptyDir: {} }],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          securityContext: {},
          schedulerName: 'default-scheduler',
        },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
  };
}

/** The webhook's own earlier patch applied: what the API server stores and sends back as oldObject. */
function alreadyMutated(deployment: Json): Json {
  const copy = structuredClone(deployment) as { spec: { template: { metadata: { labels: Json; annotations: Json } } } };
  copy.spec.template.metadata.labels['sidecar.istio.io/inject'] = 'true';
  copy.spec.template.metadata.annotations['sidecar.istio.io/inject'] = 'true';
  return copy as unknown as Json;
}

export function deploymentCreate(uid: string, service = 'reviews', version = 'v2'): Json {
  return review({ uid, kind: deploymentKind, resource: deploymentResource, namespace: NAMESPACE, name: `${service}-${version}`, operation: 'CREATE', object: canaryDeployment(service, version) });
}

/** A re-apply that changes the image tag: object and oldObject, both full Deployments. */
export function deploymentUpdate(uid: string, service = 'reviews', version = 'v2'): Json {
  const old = alreadyMutated(canaryDeployment(service, version, { stored: true }));
  const object = canaryDeployment(service, version, { stored: true, imageTag: '1.20.4' });
  return review({ uid, kind: deploymentKind, resource: deploymentResource, namespace: NAMESPACE, name: `${service}-${version}`, operation: 'UPDATE', object, oldObject: old });
}

/** A VirtualService with 3 http routes (header match, URI match, default split). */
export function virtualService(routes: Array<Array<{ subset: string; weight?: unknown }>>, stored = false): Json {
  const host = 'reviews';
  const matches = [
    [{ headers: { 'end-user': { exact: 'jason' } } }],
    [{ uri: { prefix: '/api/v2/reviews' } }, { queryParams: { beta: { exact: 'true' } } }],
    undefined,
  ];
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: {
      name: 'reviews',
      namespace: NAMESPACE,
      ...(stored ? { uid: 'c0a1f1d2-8e7b-4b71-9a3c-7c2f1e5d4b21', resourceVersion: '48213400', generation: 7, creationTimestamp: '2025-06-02T09:20:11Z' } : {}),
      labels: { app: 'reviews', 'app.kubernetes.io/part-of': 'bookinfo' },
      annotations: { owner: 'storefront-team@example.com' },
    },
    spec: {
      hosts: [host],
      gateways: ['mesh'],
      http: routes.map((route, index) => ({
        name: ['jason', 'beta-api', 'default'][index],
        ...(matches[index] ? { match: matches[index] } : {}),
        route: route.map((destination) => ({
          destination: { host, subset: destination.subset, port: { number: 9080 } },
          ...(destination.weight === undefined ? {} : { weight: destination.weight }),
        })),
        retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure,refused-stream' },
        timeout: '10s',
      })),
    },
  };
}

const allowedRoutes = [
  [{ subset: 'v2' }],
  [{ subset: 'v1', weight: 50 }, { subset: 'v2', weight: 30 }, { subset: 'v3', weight: 20 }],
  [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 10 }],
];
const previousRoutes = [
  [{ subset: 'v2' }],
  [{ subset: 'v1', weight: 80 }, { subset: 'v2', weight: 20 }],
  [{ subset: 'v1', weight: 100 }, { subset: 'v3', weight: 0 }],
];
/** Three problems: a sum of 90, an undefined subset, a negative weight. */
const deniedRoutes = [
  [{ subset: 'v2' }],
  [{ subset: 'v1', weight: 50 }, { subset: 'v2', weight: 30 }, { subset: 'v3', weight: 10 }],
  [{ subset: 'v1', weight: 90 }, { subset: 'v3', weight: 20 }, { subset: 'v9', weight: -10 }],
];

export function virtualServiceReview(uid: string, operation: 'CREATE' | 'UPDATE', deny: boolean): Json {
  const routes = deny ? deniedRoutes : allowedRoutes;
  return review({
    uid, kind: vsKind, resource: vsResource, namespace: NAMESPACE, name: 'reviews', operation,
    object: virtualService(routes, operation === 'UPDATE'),
    ...(operation === 'UPDATE' ? { oldObject: virtualService(previousRoutes, true) } : {}),
  });
}

/** A DestinationRule with five subsets `v1`…`v5`, as the cache holds it. */
export function destinationRule(namespace: string, service: string, index = 0): DestinationRule {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: {
      name: service,
      namespace,
      labels: { app: service },
      creationTimestamp: new Date(Date.UTC(2025, 0, 1) + index * 1000).toISOString(),
    },
    spec: {
      host: service,
      trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1000, maxRequestsPerConnection: 10 } }, outlierDetection: { consecutive5xxErrors: 5, interval: '30s', baseEjectionTime: '30s' } },
      subsets: ['v1', 'v2', 'v3', 'v4', 'v5'].map((name) => ({ name, labels: { version: name } })),
    },
  };
}

/** `count` DestinationRules (at least Bookinfo's four in NAMESPACE), the rest spread over 50 team namespaces. */
export function destinationRules(count: number): DestinationRule[] {
  const rules = ['reviews', 'ratings', 'details', 'productpage'].slice(0, count).map((service, index) => destinationRule(NAMESPACE, service, index));
  for (let i = rules.length; i < count; i++) rules.push(destinationRule(`team-${i % 50}`, `svc-${i}`, i));
  return rules;
}

/** The mutate-with-write body as a template: `__NAMESPACE__`, `__SERVICE__`, `__VERSION__` and `__UID__` are replaced per request. */
export function writeTemplate(): string {
  const body = review({
    uid: '__UID__', kind: deploymentKind, resource: deploymentResource, namespace: '__NAMESPACE__', name: '__SERVICE__-__VERSION__', operation: 'CREATE',
    object: canaryDeployment('__SERVICE__', '__VERSION__'),
  }) as { request: { object: { metadata: { namespace: string } } } };
  body.request.object.metadata.namespace = '__NAMESPACE__';
  return JSON.stringify(body);
}
