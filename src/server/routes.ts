/** HTTP paths and the default port; the deploy manifests are tested against these. */
export const routes = Object.freeze({
  mutate: '/mutate',
  validate: '/validate',
  guard: '/guard',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
});

// The port is configuration; it lives with the flags so config.ts needs nothing from the server.
export { defaultPort } from '../config.js';
