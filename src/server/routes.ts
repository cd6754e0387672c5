/** HTTP paths and the default port; the deploy manifests are tested against these. */
export const routes = Object.freeze({
  mutate: '/mutate',
  validate: '/validate',
  guard: '/guard',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
});

export const defaultPort = 8443;
