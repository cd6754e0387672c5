// @kubernetes/client-node 1.4 builds a new http(s).Agent, keep-alive off, for
// every API call (KubeConfig.applySecurityAuthentication → createAgent), so
// against a real API server every list and write pays a TCP and TLS
// handshake. This swaps that agent for a shared keep-alive one built from the
// same options. Credentials stay per request: tokens travel in headers, which
// are untouched, and a rotated client certificate yields a new key here.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

/** Idle sockets are closed well before the API server's own 90 s idle timeout, so none is reused as the server closes it. */
const idleSocketTimeoutMs = 30_000;
const tlsFields = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

export class KeepAliveAgents {
  private readonly agents = new Map<string, http.Agent>();

  /** The shared agent for `perRequest`'s options; proxy and other agent types are returned unchanged. */
  shared(perRequest: http.Agent | https.Agent | undefined): http.Agent | https.Agent | undefined {
    if (!perRequest) return perRequest;
    const AgentClass = perRequest.constructor;
    if (AgentClass !== http.Agent && AgentClass !== https.Agent) return perRequest;
    const options = (perRequest as unknown as { options: Record<string, unknown> }).options;
    const key = `${AgentClass === https.Agent ? 'https' : 'http'}:${fingerprint(options)}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const tls = Object.fromEntries(tlsFields.filter((field) => options[field] !== undefined).map((field) => [field, options[field]]));
      agent = new (AgentClass as typeof http.Agent)({ ...tls, keepAlive: true, timeout: idleSocketTimeoutMs });
      this.agents.set(key, agent);
    }
    perRequest.destroy();
    return agent;
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

function fingerprint(options: Record<string, unknown>): string {
  const hash = createHash('sha256');
  for (const field of tlsFields) hash.update(`${field}=${serialize(options[field])};`);
  return hash.digest('hex');
}

function serialize(value: unknown): string {
  if (value === undefined) return '';
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return value.map(serialize).join(',');
  return String(value);
}
