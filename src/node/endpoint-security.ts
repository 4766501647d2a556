import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { ServerCredentials } from '@grpc/grpc-js';

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/** HOST:PORT, with IPv6 hosts in brackets ([::1]:50052). */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(endpoint);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`endpoint "${endpoint}" is not HOST:PORT`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

/** An endpoint others reach over the network must be served over TLS. */
export function checkAdvertisedEndpoint(endpoint: string, tls: boolean): void {
  const { host } = splitEndpoint(endpoint);
  if (!tls && !isLoopbackHost(host)) {
    throw new Error(
      `advertised endpoint ${endpoint} is not a loopback address, so it must be served over TLS: pass --tls-cert FILE --tls-key FILE (or advertise 127.0.0.1:PORT for a local network)`,
    );
  }
}

/**
 * Reads a certificate chain and its private key and checks that they belong together and that
 * the certificate is currently valid; returns the PEM bytes.
 */
export function readTlsFiles(files: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(
        `cannot read the TLS ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  };
  const cert = read(files.cert, 'certificate');
  const key = read(files.key, 'private key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`TLS certificate ${files.cert} is not a PEM certificate: ${(error as Error).message}`);
  }
  try {
    createPrivateKey(key);
  } catch (error) {
    throw new Error(`TLS private key ${files.key} is not a PEM private key: ${(error as Error).message}`);
  }
  if (!x509.checkPrivateKey(createPrivateKey(key)))
    throw new Error(`TLS private key ${files.key} does not belong to the certificate ${files.cert}`);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(
      `TLS certificate ${files.cert} and key ${files.key} are not usable together: ${(error as Error).message}`,
    );
  }
  const now = Date.now();
  if (now < Date.parse(x509.validFrom) || now > Date.parse(x509.validTo)) {
    throw new Error(`TLS certificate ${files.cert} is valid from ${x509.validFrom} to ${x509.validTo}, not now`);
  }
  return { cert, key };
}

export function serverCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const { cert, key } = readTlsFiles(tls);
  return ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
}
