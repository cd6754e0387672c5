import type { Logger } from 'pino';
import type { ServeConfig } from '../config.js';
import { ConfigError } from '../config.js';
import { ensureDevCertificates } from '../tls/dev-certs.js';

/** Given files win; a laptop (standalone) gets generated dev certificates; a cluster deployment must be given its own. */
export async function resolveTlsFiles(config: ServeConfig, standalone: boolean, logger: Logger): Promise<{ certPath: string; keyPath: string }> {
  if (config.tlsCertPath && config.tlsKeyPath) return { certPath: config.tlsCertPath, keyPath: config.tlsKeyPath };
  if (!standalone) {
    throw new ConfigError('--tls-cert and --tls-key are required against a cluster (dev certificates are for --standalone only)');
  }
  const files = await ensureDevCertificates(config.certDir);
  logger.info({ certPath: files.certPath, caPath: files.caPath }, `using dev certificates; trust ${files.caPath} (curl --cacert ${files.caPath})`);
  return { certPath: files.certPath, keyPath: files.keyPath };
}
