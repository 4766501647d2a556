import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { TesseraError } from '../core/errors.ts';

/**
 * Where a node may download a model's GGUF from with HTTP ranges: https anywhere, or a Hugging Face
 * file written `hf:OWNER/REPO/PATH.gguf[@REVISION]`. Every byte is checked against the manifest, so
 * plain http would not let a network attacker change the weights, but it would let one watch which
 * model and layers a node fetches and stall or starve it unseen: it is allowed to loopback hosts
 * alone (a local mirror, the tests), and only where the operator typed the URL. A URL the operator
 * did not type (a manifest's, from the registry) may lead only to public addresses: see
 * RegistryModelUrl and resolvePinned.
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

/**
 * A model URL the operator did not choose: a manifest's source.url, which a registry hands over.
 * Fetched from public addresses only (see resolvePinned); a type of its own so that the limit
 * travels with the URL wherever it goes, a join and every later move alike.
 */
export class RegistryModelUrl extends URL {}

/** `url` as one a registry supplied. */
export function fromRegistry(url: URL): RegistryModelUrl {
  return new RegistryModelUrl(url.href);
}

export class ModelUrlPrivateError extends TesseraError {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: string,
    shownUrl: string,
    aimedBy: 'registry' | 'redirect',
  ) {
    super(
      'MODEL_URL_PRIVATE',
      'permission_denied',
      `${shownUrl}: ${host === address ? '' : `${host} resolves to `}${address}, a ${addressClass} address; ${
        aimedBy === 'registry'
          ? 'a registry may only aim nodes at public hosts; give --model-url to fetch from a host of your choosing'
          : 'a redirect from a public host or a registry-supplied URL may only lead to public hosts; give the URL you trust as --model-url'
      }`,
    );
  }
}

/**
 * The address blocks that are not the public internet (IANA's special-purpose registries): a
 * registry that could aim nodes there would make every joining node probe its own operator's
 * network, cloud metadata service and loopback for it.
 */
const CLASSES: readonly (readonly [string, readonly (readonly [string, number])[]])[] = [
  [
    'unspecified',
    [
      ['0.0.0.0', 8],
      ['::', 128],
    ],
  ],
  [
    'loopback',
    [
      ['127.0.0.0', 8],
      ['::1', 128],
    ],
  ],
  [
    'private',
    [
      ['10.0.0.0', 8],
      ['172.16.0.0', 12],
      ['192.168.0.0', 16],
      ['fc00::', 7],
      ['fec0::', 10],
    ],
  ],
  [
    'link-local',
    [
      ['169.254.0.0', 16],
      ['fe80::', 10],
    ],
  ],
  ['shared (carrier-grade NAT)', [['100.64.0.0', 10]]],
  ['benchmarking', [['198.18.0.0', 15]]],
  [
    'documentation',
    [
      ['192.0.2.0', 24],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      ['2001:db8::', 32],
      ['3fff::', 20],
    ],
  ],
  [
    'multicast',
    [
      ['224.0.0.0', 4],
      ['ff00::', 8],
    ],
  ],
  // 2001::/23 holds Teredo, 2002::/16 is 6to4 and 64:ff9b::/96 NAT64: each carries an IPv4 address a
  // relay would reach on the node's behalf, so none is taken as public.
  [
    'reserved',
    [
      ['192.0.0.0', 24],
      ['192.88.99.0', 24],
      ['240.0.0.0', 4],
      ['2001::', 23],
      ['2002::', 16],
    ],
  ],
];

const v6 = (address: string) => address.includes(':');
const BLOCKS = CLASSES.map(([name, subnets]) => {
  const list = new BlockList();
  for (const [network, prefix] of subnets) list.addSubnet(network, prefix, v6(network) ? 'ipv6' : 'ipv4');
  return [name, list] as const;
});
/** IPv6 outside global unicast (2000::/3) is not yet assigned, or is one of the blocks above. */
const GLOBAL_UNICAST = new BlockList();
GLOBAL_UNICAST.addSubnet('2000::', 3, 'ipv6');
const MAPPED = new BlockList();
MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/**
 * The class of a non-public IP address ('private', 'loopback', …), or undefined for a public one.
 * An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is its IPv4 address.
 */
export function nonPublicClass(address: string): string | undefined {
  const ip = address.replace(/^\[(.*)\]$/, '$1');
  const version = isIP(ip);
  if (version === 0) return 'unparsable';
  const type = version === 4 ? 'ipv4' : 'ipv6';
  // A mapped address matches the IPv4 blocks (BlockList maps it), and is public if none does.
  const mapped = type === 'ipv6' && MAPPED.check(ip, 'ipv6');
  for (const [name, list] of BLOCKS) if (list.check(ip, type)) return name;
  if (type === 'ipv6' && !mapped && !GLOBAL_UNICAST.check(ip, 'ipv6')) return 'reserved';
  return undefined;
}

export interface PinnedHost {
  /** Every address the host resolved to: a connection goes to these alone. */
  readonly addresses: readonly LookupAddress[];
  /** Whether all of them are public. */
  readonly public: boolean;
  /** For a connection: answers with `addresses`, so the name is not resolved again between the check and the connection. */
  readonly lookup: LookupFunction;
}

/** The class of a non-public address, undefined for a public one. */
export type AddressClassifier = (address: string) => string | undefined;

export type Resolver = (hostname: string) => Promise<readonly LookupAddress[]>;

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * Resolves `url`'s host once; with `publicOnly`, refuses (ModelUrlPrivateError) if any of its
 * addresses is not public, since a connection may go to any of them. A resolution failure rejects
 * with the resolver's error.
 */
export async function resolvePinned(
  url: URL,
  options: {
    /** Who aimed the node at `url`, when only public addresses will do. */
    readonly publicOnly: false | 'registry' | 'redirect';
    readonly resolver?: Resolver;
    /** Default nonPublicClass. */
    readonly classify?: AddressClassifier;
  },
): Promise<PinnedHost> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const version = isIP(host);
  const addresses =
    version === 0 ? await (options.resolver ?? systemResolver)(host) : [{ address: host, family: version }];
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  let allPublic = true;
  for (const { address } of addresses) {
    const addressClass = (options.classify ?? nonPublicClass)(address);
    if (addressClass === undefined) continue;
    allPublic = false;
    if (options.publicOnly)
      throw new ModelUrlPrivateError(
        host,
        address,
        addressClass,
        `${url.protocol}//${url.host}${url.pathname}`,
        options.publicOnly,
      );
  }
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    const family = lookupOptions.family === 4 || lookupOptions.family === 6 ? lookupOptions.family : undefined;
    const usable = addresses.filter((a) => family === undefined || a.family === family);
    if (usable.length === 0) {
      const error = Object.assign(new Error(`${host}: no IPv${family} address was resolved`), { code: 'ENOTFOUND' });
      callback(error as NodeJS.ErrnoException, '', 0);
    } else if (lookupOptions.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
    else callback(null, usable[0]!.address, usable[0]!.family);
  };
  return { addresses, public: allPublic, lookup: pinned };
}
