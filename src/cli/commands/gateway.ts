import type { Command } from 'commander';
import { GATEWAY_DEFAULTS } from '../../gateway/gateway-defaults.ts';
import { CliError, collect, parseIntegerOption } from '../cli-error.ts';
import { addMetricsOptions, type MetricsFlags } from '../metrics-options.ts';
import { addRegistryOption } from '../registry-option.ts';

export interface GatewayOptions extends MetricsFlags {
  registry?: string[];
  port: number;
  host: string;
  apiKey: string[];
  apiKeysFile?: string;
  allowOrigin: string[];
  allowHost: string[];
  maxConcurrent?: number;
  maxQueue: number;
  maxBodyBytes: number;
  maxPromptChars: number;
  auditShardZero?: string;
}

function collectOrigin(value: string, previous: string[]): string[] {
  if (value === '*') return [...previous, value];
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const bare = url && url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
  if (!url || !bare || !['http:', 'https:'].includes(url.protocol))
    throw new CliError(`--allow-origin must be an origin such as https://app.example:8443, got "${value}"`, 2);
  return [...previous, url.origin];
}

export function registerGatewayCommand(program: Command): void {
  const command = addRegistryOption(
    program
      .command('gateway')
      .description(
        'Serve an OpenAI-compatible HTTP API (/v1/models, /v1/completions, /v1/chat/completions) on the network.',
      ),
  )
    .option('--port <port>', 'HTTP port (0: any free port)', parseIntegerOption('port', 0, 65535), 8000)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option(
      '--api-key <key>',
      'require "Authorization: Bearer KEY" on /v1 with this key (repeatable; visible to ps: prefer --api-keys-file)',
      collect,
      [],
    )
    .option('--api-keys-file <path>', 'require one of the keys in this file (one per line, mode 0600) on /v1')
    .option(
      '--allow-origin <url>',
      'let web pages of this origin call the API, e.g. https://app.example (repeatable; loopback origins always may; * for any)',
      collectOrigin,
      [],
    )
    .option(
      '--allow-host <name>',
      'serve requests whose Host header names this host (repeatable; loopback names and --host always; * for any)',
      collect,
      [],
    )
    .option(
      '--max-concurrent <n>',
      'requests generating at once (default: the sessions the network can hold, read from its registries)',
      parseIntegerOption('max-concurrent', 1),
    )
    .option(
      '--max-queue <n>',
      'requests waiting for a slot, first come first served; more are answered 429 with Retry-After',
      parseIntegerOption('max-queue', 0),
      GATEWAY_DEFAULTS.maxQueue,
    )
    .option(
      '--max-body-bytes <n>',
      'largest request body, in bytes (413 past it)',
      parseIntegerOption('max-body-bytes', 1024),
      GATEWAY_DEFAULTS.maxBodyBytes,
    )
    .option(
      '--max-prompt-chars <n>',
      'longest prompt in characters, refused before tokenizing (400 prompt_too_long past it)',
      parseIntegerOption('max-prompt-chars', 1),
      GATEWAY_DEFAULTS.maxPromptChars,
    )
    .option(
      '--audit-shard-zero <shards-dir>',
      "check shard 0's audit-selected steps here with the shards in this directory (its manifest.json and shard 0's file): they hold the prompt, so no verifier or registry audits them; a node that cheats is banned and reported with that one step's input",
    );
  addMetricsOptions(command, '--port + 1000').action(async (options: GatewayOptions) =>
    (await import('./gateway-action.ts')).gatewayCommand(options),
  );
}
