import { Option, type Command } from 'commander';
import { CliError, collect, parseIntegerOption } from '../cli-error.ts';
import { DEFAULT_DAEMON_PORT } from './daemon.ts';

export interface UpOptions {
  model?: string;
  port?: number;
  host: string;
  shards: number;
  registryPort?: number;
  daemonPort?: number;
  defaultPorts: DefaultPorts;
  workDir?: string;
  readyTimeout: number;
  apiKey: string[];
  apiKeysFile?: string;
}

/** The ports the roles take when free and no flag names one (the registry's matches `tessera registry`'s). */
interface DefaultPorts {
  readonly registry: number;
  readonly daemon: number;
  readonly gateway: number;
}

const DEFAULT_PORTS: DefaultPorts = { registry: 50050, daemon: DEFAULT_DAEMON_PORT, gateway: 8000 };

/** --default-ports REGISTRY,DAEMON,GATEWAY: a test's stand-ins for the documented ports, which it cannot hold. */
function parseDefaultPorts(value: string): DefaultPorts {
  const ports = value.split(',').map(Number);
  if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))
    throw new CliError(`--default-ports must be REGISTRY,DAEMON,GATEWAY ports, got "${value}"`, 2);
  return { registry: ports[0]!, daemon: ports[1]!, gateway: ports[2]! };
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description(
      'Start a whole network on this machine: a registry, a node for every shard plus a spare, and the OpenAI-compatible gateway.',
    )
    .option('--model <model>', 'a GGUF file, a Hugging Face directory, or hf:OWNER/REPO/FILE (default: stories260K)')
    .option(
      '--port <port>',
      `gateway HTTP port; it must be free (0: any free port). Default ${DEFAULT_PORTS.gateway}, or any free port when ${DEFAULT_PORTS.gateway} is in use`,
      parseIntegerOption('port', 0, 65535),
    )
    .option('--host <address>', 'gateway address', '127.0.0.1')
    .option(
      '--api-key <key>',
      'the gateway requires "Authorization: Bearer KEY" on /v1 with this key (repeatable; visible to ps: prefer --api-keys-file)',
      collect,
      [],
    )
    .option(
      '--api-keys-file <path>',
      'the gateway requires one of the keys in this file (one per line, mode 0600) on /v1',
    )
    .option('--shards <n>', 'how many shards to cut the model into', parseIntegerOption('shards', 2, 64), 2)
    .option(
      '--registry-port <port>',
      `registry port; it must be free (0: any free port). Default ${DEFAULT_PORTS.registry}, or any free port when ${DEFAULT_PORTS.registry} is in use`,
      parseIntegerOption('registry-port', 0, 65535),
    )
    .option(
      '--daemon-port <port>',
      `share-chain daemon port; it must be free (0: any free port). Default ${DEFAULT_PORTS.daemon}, or any free port when ${DEFAULT_PORTS.daemon} is in use`,
      parseIntegerOption('daemon-port', 0, 65535),
    )
    .addOption(
      new Option('--default-ports <registry,daemon,gateway>', 'stand-ins for the default ports (for tests)')
        .argParser(parseDefaultPorts)
        .default(DEFAULT_PORTS)
        .hideHelp(),
    )
    .option('--work-dir <dir>', 'where shards, keys, the registry database and logs go (default: the cache directory)')
    .option(
      '--ready-timeout <seconds>',
      'how long to wait for every shard to be served',
      parseIntegerOption('ready-timeout', 1),
      120,
    )
    .action(async (options: UpOptions) => (await import('./up-action.ts')).upCommand(options));
}
