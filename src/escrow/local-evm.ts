import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Hex } from 'viem';

/** A local EVM node (anvil, from @foundry-rs/anvil) on 127.0.0.1, with funded accounts. */
export interface LocalEvm {
  readonly rpcUrl: string;
  /** Private keys of the node's funded accounts. */
  readonly keys: readonly Hex[];
  /** Moves chain time forward and mines a block, so reads and the next transaction see it. */
  increaseTime(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export interface LocalEvmOptions {
  readonly accounts?: number;
  /** Per account, in ether. */
  readonly balanceEth?: number;
  readonly startTimeoutMs?: number;
}

const PLATFORM_PACKAGES: Readonly<Record<string, string>> = {
  'linux-x64': 'anvil-linux-amd64',
  'linux-arm64': 'anvil-linux-arm64',
  'darwin-x64': 'anvil-darwin-amd64',
  'darwin-arm64': 'anvil-darwin-arm64',
  'win32-x64': 'anvil-win32-amd64',
};

/** @foundry-rs/anvil installs its binary as a per-platform optional package. */
export function anvilBinary(): string {
  const name = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (name === undefined) throw new Error(`@foundry-rs/anvil ships no binary for ${process.platform}-${process.arch}`);
  const packageJson = createRequire(import.meta.url).resolve(`@foundry-rs/${name}/package.json`);
  return join(dirname(packageJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

/**
 * Starts anvil on a port the OS picks (`--port 0`, read back from its banner, so parallel test
 * files never collide) and resolves once eth_chainId answers.
 */
export async function startLocalEvm(options: LocalEvmOptions = {}): Promise<LocalEvm> {
  const child = spawn(
    anvilBinary(),
    [
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--accounts',
      String(options.accounts ?? 10),
      '--balance',
      String(options.balanceEth ?? 10_000),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  try {
    const banner = await new Promise<string>((resolve, reject) => {
      let text = '';
      let stderr = '';
      const timer = setTimeout(
        () => reject(new Error(`anvil did not start within ${options.startTimeoutMs ?? 30_000} ms: ${stderr}`)),
        options.startTimeoutMs ?? 30_000,
      );
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (/Listening on \S+:\d+/.test(text)) {
          clearTimeout(timer);
          resolve(text);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`anvil exited before listening (code ${code}, signal ${signal}): ${stderr}`));
      });
    });
    // The banner has been read; stop buffering the per-request log anvil keeps printing.
    child.stdout.resume().removeAllListeners('data');

    const port = Number(/Listening on \S+:(\d+)/.exec(banner)?.[1]);
    const keysSection = banner.split('Private Keys')[1]?.split('Wallet')[0] ?? '';
    const keys = [...keysSection.matchAll(/\(\d+\)\s+(0x[0-9a-fA-F]{64})/g)].map((m) => m[1] as Hex);
    const rpcUrl = `http://127.0.0.1:${port}`;
    const rpc = async (method: string, params: readonly unknown[] = []): Promise<unknown> => {
      const response = await fetch(rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
      const body = (await response.json()) as { result?: unknown; error?: { message: string } };
      if (body.error !== undefined) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    };

    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      try {
        await rpc('eth_chainId');
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`anvil on ${rpcUrl} never answered eth_chainId: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    return {
      rpcUrl,
      keys,
      async increaseTime(seconds: number): Promise<void> {
        await rpc('evm_increaseTime', [seconds]);
        await rpc('evm_mine');
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
