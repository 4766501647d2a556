import { isIP } from 'node:net';
import { TesseraError } from '../core/errors.ts';

/**
 * Where a node may download a model's GGUF from with HTTP ranges: https anywhere, or a Hugging Face
 * file written `hf:OWNER/REPO/PATH.gguf[@REVISION]`. Every byte is checked against the manifest, so
 * plain http would not let a network attacker change the weights, but it would let one watch which
 * model and layers a node fetches and stall or starve it unseen: it is allowed to loopback hosts
 * alone (a local mirror, the tests), and only where the operator typed the URL.
 */

const HF = /^hf:([A-Za-z0-9][\w.-]*)\/([A-Za-z0-9][\w.-]*)\/((?:[\w.-]+\/)*[\w.-]+\.gguf)(?:@([\w.-]+))?$/;

export const HUGGING_FACE = 'https://huggingface.co';

export class ModelUrlError extends TesseraError {
  constructor(code: 'MODEL_URL_INVALID' | 'MODEL_URL_INSECURE', message: string) {
    super(code, 'invalid', message);
  }
}

/** Whether `hostname` (as URL.hostname gives it) is this machine's loopback. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && host === '::1';
}

/**
 * The https (or loopback http) URL a model URL names. `allowLoopbackHttp`: the operator typed it;
 * a URL from a manifest (which a registry hands over) must be https or hf:.
 */
export function resolveModelUrl(spec: string, options: { readonly allowLoopbackHttp: boolean }): URL {
  const hf = HF.exec(spec);
  if (hf) {
    const [, owner, repo, path, revision] = hf;
    if (path!.split('/').some((segment) => segment === '.' || segment === '..'))
      throw new ModelUrlError(
        'MODEL_URL_INVALID',
        `${spec}: a path segment of . or .. is not a file of the repository`,
      );
    return new URL(`${HUGGING_FACE}/${owner}/${repo}/resolve/${revision ?? 'main'}/${path}`);
  }
  if (spec.startsWith('hf:'))
    throw new ModelUrlError(
      'MODEL_URL_INVALID',
      `${spec}: write a Hugging Face file as hf:OWNER/REPO/FILE.gguf, optionally @REVISION (a branch, tag or commit)`,
    );
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new ModelUrlError(
      'MODEL_URL_INVALID',
      `${spec} is not a URL: give https://HOST/PATH/FILE.gguf or hf:OWNER/REPO/FILE.gguf`,
    );
  }
  if (url.username !== '' || url.password !== '')
    throw new ModelUrlError(
      'MODEL_URL_INVALID',
      `${url.host}: credentials in a model URL would be logged; serve the file without them`,
    );
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:') {
    if (options.allowLoopbackHttp && isLoopbackHost(url.hostname)) return url;
    throw new ModelUrlError(
      'MODEL_URL_INSECURE',
      `${spec}: http: is refused except to a loopback host (127.0.0.1, ::1, localhost)${options.allowLoopbackHttp ? '' : ' given on the command line'}: use https:`,
    );
  }
  throw new ModelUrlError(
    'MODEL_URL_INVALID',
    `${spec}: the ${url.protocol} scheme is not supported; use https: or hf:`,
  );
}
