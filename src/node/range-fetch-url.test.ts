import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fromRegistry,
  isLoopbackHost,
  ModelUrlError,
  ModelUrlPrivateError,
  nonPublicClass,
  RegistryModelUrl,
  resolveModelUrl,
  resolvePinned,
  type Resolver,
} from './range-fetch-url.ts';

const operator = { allowLoopbackHttp: true };
const manifest = { allowLoopbackHttp: false };

test('hf:OWNER/REPO/FILE.gguf maps to the resolve URL of the main branch, @REVISION to that revision', () => {
  assert.equal(
    resolveModelUrl('hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf', manifest).href,
    'https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q8_0.gguf',
  );
  assert.equal(
    resolveModelUrl('hf:owner/repo/sub/dir/model.Q4_K_M.gguf@0123abc', manifest).href,
    'https://huggingface.co/owner/repo/resolve/0123abc/sub/dir/model.Q4_K_M.gguf',
  );
});

test('https URLs pass; http only to a loopback host the operator typed', () => {
  assert.equal(resolveModelUrl('https://example.com/m.gguf', manifest).href, 'https://example.com/m.gguf');
  for (const url of ['http://127.0.0.1:8080/m.gguf', 'http://[::1]:8080/m.gguf', 'http://localhost/m.gguf'])
    assert.equal(resolveModelUrl(url, operator).protocol, 'http:', url);
  const refused = (url: string, options: { allowLoopbackHttp: boolean }, code: string, reason: RegExp) =>
    assert.throws(
      () => resolveModelUrl(url, options),
      (error) => error instanceof ModelUrlError && error.code === code && reason.test(error.message),
      url,
    );
  refused('http://example.com/m.gguf', operator, 'MODEL_URL_INSECURE', /except to a loopback host/);
  refused('http://10.0.0.1/m.gguf', operator, 'MODEL_URL_INSECURE', /except to a loopback host/);
  refused('http://127.0.0.1/m.gguf', manifest, 'MODEL_URL_INSECURE', /given on the command line/);
  refused('ftp://example.com/m.gguf', operator, 'MODEL_URL_INVALID', /ftp: scheme/);
  refused('https://user:secret@example.com/m.gguf', operator, 'MODEL_URL_INVALID', /credentials/);
  refused('hf:owner/repo', operator, 'MODEL_URL_INVALID', /hf:OWNER\/REPO\/FILE.gguf/);
  refused('hf:owner/repo/../x.gguf', operator, 'MODEL_URL_INVALID', /\. or \.\./);
  refused('not a url', operator, 'MODEL_URL_INVALID', /is not a URL/);
});

test('loopback hosts are 127.0.0.0/8, ::1 and localhost, nothing else', () => {
  assert.deepEqual(
    [
      '127.0.0.1',
      '127.9.9.9',
      '[::1]',
      'localhost',
      '128.0.0.1',
      '[::ffff:127.0.0.1]',
      'localhost.example.com',
      '0.0.0.0',
    ].map(isLoopbackHost),
    [true, true, true, true, false, false, false, false],
  );
});

/** Each address of the table gets its class (undefined: public). */
const assertClasses = (classes: readonly [string, string | undefined][]) =>
  assert.deepEqual(
    classes.map(([address]) => [address, nonPublicClass(address)]),
    classes,
  );

test('every non-public IPv4 block has its class; public addresses have none', () => {
  const classes: [string, string | undefined][] = [
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'],
    ['100.127.255.254', 'shared (carrier-grade NAT)'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', undefined],
    ['172.32.0.1', undefined],
    ['100.128.0.1', undefined],
    ['169.253.255.255', undefined],
    ['11.0.0.1', undefined],
  ];
  assertClasses(classes);
});

test('IPv6: loopback, unspecified, ULA, link-local, and anything outside global unicast are not public; IPv4-mapped ones are their IPv4 address', () => {
  const classes: [string, string | undefined][] = [
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    // Teredo, 6to4 and NAT64 reach an IPv4 address through a relay.
    ['2001:0:4136:e378::1', 'reserved'],
    ['2002:a00:1::1', 'reserved'],
    ['64:ff9b::a00:1', 'reserved'],
    // IPv4-compatible (deprecated) and unassigned space.
    ['::a00:1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:a00:1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:8.8.8.8', undefined],
    ['2606:4700::1111', undefined],
    ['2a00:1450:4001::200e', undefined],
  ];
  assertClasses(classes);
  assert.equal(nonPublicClass('not-an-ip'), 'unparsable');
});

/** A resolver that must not be asked: an IP literal needs no DNS. */
const noDns: Resolver = (host) => assert.fail(`resolved ${host}`);
const refusedAt = async (url: URL, address: string, addressClass: string, resolver: Resolver = noDns) =>
  assert.rejects(resolvePinned(url, { publicOnly: 'registry', resolver }), (error) => {
    assert.ok(error instanceof ModelUrlPrivateError, String(error));
    assert.equal(error.code, 'MODEL_URL_PRIVATE');
    assert.equal(error.kind, 'permission_denied');
    assert.equal(error.address, address);
    assert.equal(error.addressClass, addressClass);
    assert.match(error.message, /a registry may only aim nodes at public hosts; give --model-url/);
    return true;
  });

test('numeric host forms are checked as the address URL() makes of them', async () => {
  // URL() reads decimal, hex, octal and short IPv4 forms, and compresses IPv4-mapped IPv6.
  const forms: [string, string, string][] = [
    ['https://167772161/m.gguf', '10.0.0.1', 'private'],
    ['https://0x0a.0.0.1/m.gguf', '10.0.0.1', 'private'],
    ['https://0xa9fea9fe/m.gguf', '169.254.169.254', 'link-local'],
    ['https://012.0.0.1/m.gguf', '10.0.0.1', 'private'],
    ['https://127.1/m.gguf', '127.0.0.1', 'loopback'],
    ['https://0/m.gguf', '0.0.0.0', 'unspecified'],
    ['https://[::ffff:10.0.0.1]/m.gguf', '::ffff:a00:1', 'private'],
    ['https://[0:0:0:0:0:ffff:7f00:1]/m.gguf', '::ffff:7f00:1', 'loopback'],
    ['https://[fe80::1]:8443/m.gguf', 'fe80::1', 'link-local'],
  ];
  for (const [spec, address, addressClass] of forms) {
    const url = fromRegistry(resolveModelUrl(spec, manifest));
    assert.ok(url instanceof RegistryModelUrl);
    await refusedAt(url, address, addressClass);
  }
  const operatorTyped = await resolvePinned(new URL('https://167772161/m.gguf'), {
    publicOnly: false,
    resolver: noDns,
  });
  assert.deepEqual(operatorTyped.addresses, [{ address: '10.0.0.1', family: 4 }]);
  // A name resolved by the system: localhost is loopback however this machine answers for it.
  await assert.rejects(
    resolvePinned(fromRegistry(new URL('https://localhost:8443/m.gguf')), { publicOnly: 'registry' }),
    (error) =>
      error instanceof ModelUrlPrivateError &&
      error.addressClass === 'loopback' &&
      /^localhost resolves to/.test(error.message.split(': ')[1]!),
  );
});

test('a name is refused if any of its addresses is not public, and the message names the address', async () => {
  const resolver: Resolver = async (host) => {
    assert.equal(host, 'models.example.com');
    return [
      { address: '203.0.114.7', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ];
  };
  await refusedAt(new URL('https://models.example.com/m.gguf'), '10.0.0.5', 'private', resolver);
  await assert.rejects(
    resolvePinned(new URL('https://models.example.com/m.gguf'), { publicOnly: 'registry', resolver }),
    /models\.example\.com resolves to 10\.0\.0\.5, a private address; a registry may only aim nodes at public hosts/,
  );
  await assert.rejects(
    resolvePinned(new URL('https://models.example.com/m.gguf'), { publicOnly: 'redirect', resolver }),
    /a redirect from a public host or a registry-supplied URL may only lead to public hosts/,
  );
});

test('a host whose addresses are all public is pinned to them: the connection asks no DNS again', async () => {
  let asked = 0;
  const resolver: Resolver = async () => {
    asked++;
    return [
      { address: '2606:4700::1111', family: 6 },
      { address: '1.1.1.1', family: 4 },
    ];
  };
  const host = await resolvePinned(new URL('https://models.example.com/m.gguf'), { publicOnly: 'registry', resolver });
  assert.equal(host.public, true);
  const lookedUp = (options: { all?: boolean; family?: number }) =>
    new Promise<unknown>((resolve, reject) =>
      host.lookup('models.example.com', options, (error, address, family) =>
        error ? reject(error) : resolve(options.all ? address : [address, family]),
      ),
    );
  assert.deepEqual(await lookedUp({ all: true }), host.addresses);
  assert.deepEqual(await lookedUp({ family: 4 }), ['1.1.1.1', 4]);
  assert.deepEqual(await lookedUp({}), ['2606:4700::1111', 6]);
  assert.equal(asked, 1);
});

test('a URL the operator typed may name any host: it resolves, is marked not public, and is not refused', async () => {
  for (const spec of ['https://10.0.0.5/m.gguf', 'http://127.0.0.1:8080/m.gguf', 'https://[fd00::1]/m.gguf']) {
    const url = resolveModelUrl(spec, operator);
    assert.equal(url instanceof RegistryModelUrl, false, spec);
    const host = await resolvePinned(url, { publicOnly: false, resolver: noDns });
    assert.equal(host.public, false, spec);
  }
  const named = await resolvePinned(new URL('https://mirror.lan/m.gguf'), {
    publicOnly: false,
    resolver: async () => [{ address: '192.168.1.20', family: 4 }],
  });
  assert.deepEqual(named.addresses, [{ address: '192.168.1.20', family: 4 }]);
});
