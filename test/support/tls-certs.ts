import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * A self-signed certificate (EC P-256, valid one day) for `names` (DNS names and IPs), written as
 * NAME.cert.pem and NAME.key.pem in `dir`, by the system's openssl.
 */
export function selfSignedCert(dir: string, name: string, names: readonly string[]): { cert: string; key: string } {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
