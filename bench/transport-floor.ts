// What one more hop costs the transport alone: chains of 1 and 4 relay processes
// (bench/transport-relay.ts) passing raw bytes over grpc-js bidirectional streams, with the
// channel options of the Forward streams, the same three messages a hop a token (a step down, a
// result and its signatures up) of about the sizes stories260K's have through a 4-hop route, and
// nothing else: no protobuf, no hashing, no signatures, no compute. bench/network.ts sets the
// per-hop figure of the real pipeline against it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  credentials,
  makeGenericClientConstructor,
  type ClientDuplexStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { FORWARD_CHANNEL_OPTIONS } from '../src/rpc/stream-options.ts';
import { processesCpuUs } from './process-cpu.ts';

const raw = (bytes: Buffer) => bytes;

export const RELAY_SERVICE = {
  forward: {
    path: '/tessera.bench.Relay/Forward',
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
} satisfies ServiceDefinition;

interface RelayClientInstance {
  forward(): ClientDuplexStream<Buffer, Buffer>;
  close(): void;
}

export const RelayClient = makeGenericClientConstructor(RELAY_SERVICE, 'Relay') as unknown as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  options: object,
) => RelayClientInstance;

/** A Step of stories260K (64 hidden floats and the step's fields), its StepResult through 4 hops, their signatures. */
const STEP_BYTES = 300;
const RESULT_BYTES = 700;
const SIGNATURES_BYTES = 280;

/** The middle of `values`. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Starts `hops` relay processes, the last first, each passing on to the one started before it; returns them and the first's endpoint. */
async function startChain(hops: number): Promise<{ processes: ChildProcess[]; endpoint: string }> {
  const processes: ChildProcess[] = [];
  let endpoint: string | undefined;
  const script = new URL('./transport-relay.ts', import.meta.url).pathname;
  for (let i = 0; i < hops; i++) {
    const child = spawn(
      process.execPath,
      [...process.execArgv, script, String(RESULT_BYTES), String(SIGNATURES_BYTES), ...(endpoint ? [endpoint] : [])],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    processes.push(child);
    const port = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`relay process exited with ${code} before it listened`)));
      createInterface({ input: child.stdout! }).once('line', resolve);
    });
    endpoint = `127.0.0.1:${port}`;
  }
  return { processes, endpoint: endpoint! };
}

/** One chain's measure: the median token's µs, and the CPU each token took its processes (undefined off Linux). */
interface ChainMeasure {
  readonly tokenUs: number;
  readonly cpuUsPerToken?: number;
}

/**
 * The median µs from sending a step to having its result and signatures, through `hops` relays,
 * after `warmUpMs` of the same, and the CPU the relays and this process spent a token meanwhile.
 */
async function measureChain(hops: number, tokens: number, warmUpMs: number): Promise<ChainMeasure> {
  const { processes, endpoint } = await startChain(hops);
  const client = new RelayClient(endpoint, credentials.createInsecure(), FORWARD_CHANNEL_OPTIONS);
  const call = client.forward();
  try {
    let replies = 0;
    let done: () => void = () => undefined;
    call.on('data', () => {
      if (++replies === 2) done();
    });
    const failed = new Promise<never>((_, reject) => call.on('error', reject));
    const step = Buffer.alloc(STEP_BYTES, 3);
    const token = () => {
      replies = 0;
      const answered = new Promise<void>((resolve) => (done = resolve));
      call.write(step);
      return Promise.race([answered, failed]);
    };
    const until = performance.now() + warmUpMs;
    do await token();
    while (performance.now() < until);
    const pids = [process.pid, ...processes.map((child) => child.pid!)];
    const cpuBefore = processesCpuUs(pids);
    const times: number[] = [];
    for (let i = 0; i < tokens; i++) {
      const started = performance.now();
      await token();
      times.push((performance.now() - started) * 1000);
    }
    const cpuAfter = processesCpuUs(pids);
    return {
      tokenUs: median(times),
      ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpuUsPerToken: (cpuAfter - cpuBefore) / tokens }),
    };
  } finally {
    call.end();
    client.close();
    for (const child of processes) child.kill('SIGKILL');
  }
}

/**
 * What one more relay adds to a token, (4-relay − 1-relay) / 3: its median token time, middle of
 * `launches` launches of each, and its CPU the same way (undefined off Linux).
 */
export async function transportFloorPerHop(options: {
  launches: number;
  tokens: number;
}): Promise<{ us: number; cpuUs?: number }> {
  const us: number[] = [];
  const cpuUs: number[] = [];
  for (let i = 0; i < options.launches; i++) {
    const one = await measureChain(1, options.tokens, 3000);
    const four = await measureChain(4, options.tokens, 3000);
    us.push((four.tokenUs - one.tokenUs) / 3);
    if (one.cpuUsPerToken !== undefined && four.cpuUsPerToken !== undefined)
      cpuUs.push((four.cpuUsPerToken - one.cpuUsPerToken) / 3);
  }
  return { us: median(us), ...(cpuUs.length === us.length ? { cpuUs: median(cpuUs) } : {}) };
}
