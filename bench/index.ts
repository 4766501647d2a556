// `npm run bench [-- --json] [-- --quick] [-- --only=engine,network,batching,chain,audit,crypto,cli,join]`: one table of the figures the issues name, each measured
// against its reference in the same run (these machines are noisy, so ratios are what count).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QWEN2_5_0_5B, writeSyntheticModel } from '../test/support/synthetic-model.ts';
import type { QuantMix } from '../src/model/quant-mix.ts';
import { testModel } from '../test/support/models.ts';
import { auditBenchRows } from './audit.ts';
import { chainBenchRows } from './chain.ts';
import { cliBenchRows } from './cli.ts';
import { cryptoBenchRows } from './crypto.ts';
import { batchingBenchRows, networkBenchRows } from './network.ts';
import type { BenchRow } from './row.ts';

interface Measurement {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  peakRssBytes: number;
  rssAfterLoadBytes?: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const cacheDir = join(root, '.cache', 'bench');

function measure(script: string, argv: (string | number)[]): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...argv.map(String)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
}

function syntheticModel(mix: QuantMix): string {
  mkdirSync(cacheDir, { recursive: true });
  const path = join(cacheDir, `qwen2.5-0.5b-shape-${mix}.gguf`);
  if (!existsSync(path)) {
    process.stderr.write(`writing ${path} (random weights) ...\n`);
    writeSyntheticModel(path, QWEN2_5_0_5B, { type: mix, seed: 1 });
  }
  return path;
}

function engineRows(
  label: string,
  path: string,
  threads: number,
  promptTokens: number,
  decodeTokens: number,
): BenchRow[] {
  process.stderr.write(`measuring ${label} at ${threads} thread(s) ...\n`);
  const ours = measure('measure-ours.ts', [path, threads, promptTokens, decodeTokens]);
  const llama = measure('measure-llama-cpp.ts', [path, threads, promptTokens, decodeTokens]);
  const at = `${label}, ${threads} thread${threads > 1 ? 's' : ''}`;
  const referenceName = 'llama.cpp';
  return [
    {
      figure: `prefill ${promptTokens} tokens, ${at}`,
      ours: ours.prefillTokensPerSecond,
      reference: llama.prefillTokensPerSecond,
      referenceName,
      unit: 'tok/s',
    },
    {
      // after a long prompt, decode reads a long KV cache: attention's share of a step grows
      figure: `decode${promptTokens >= 512 ? ` at ${promptTokens} context` : ''}, ${at}`,
      ours: ours.decodeTokensPerSecond,
      reference: llama.decodeTokensPerSecond,
      referenceName,
      unit: 'tok/s',
    },
    {
      figure: `peak RSS, ${at}`,
      ours: ours.peakRssBytes / 2 ** 20,
      reference: llama.peakRssBytes / 2 ** 20,
      referenceName,
      unit: 'MiB',
    },
  ];
}

function shardMemoryRows(path: string): BenchRow[] {
  const layers = QWEN2_5_0_5B.layers;
  const quarter = layers / 4;
  process.stderr.write('measuring resident memory of a quarter of the layers ...\n');
  const loaded = (start: number, end: number) =>
    measure('measure-ours.ts', [path, 1, 0, 0, start, end]).rssAfterLoadBytes! / 2 ** 20;
  const baseline = loaded(0, 0);
  const part = loaded(quarter, 2 * quarter) - baseline;
  const whole = loaded(0, layers) - baseline;
  const file = (statSync(path).size / 2 ** 20).toFixed(0);
  return [
    {
      figure: `resident weights of layers ${quarter}-${2 * quarter} of ${layers} (RSS above a process holding none; qwen2.5-0.5B q8_0, ${file} MiB file incl. a 138 MiB tied embedding)`,
      ours: part,
      reference: whole,
      referenceName: 'whole model',
      unit: 'MiB',
    },
  ];
}

function formatNumber(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function printTable(rows: BenchRow[]): void {
  const header = ['figure', 'ours', 'reference', 'ours/ref', 'unit'];
  const body = rows.map((r) => [
    r.figure,
    formatNumber(r.ours),
    r.reference === undefined ? '' : `${formatNumber(r.reference)} (${r.referenceName})`,
    r.reference === undefined ? '' : (r.ours / r.reference).toFixed(2),
    r.unit,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

// `--only engine,network` runs some sections; each section is one issue's figures.
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const wanted = (section: string) => only === undefined || only.includes(section);

const rows: BenchRow[] = [];
if (wanted('engine')) {
  const threadCounts = quick ? [2] : [1, 2];
  for (const threads of threadCounts)
    rows.push(...engineRows('stories260K f32', testModel('stories260K.gguf'), threads, 128, 128));
  for (const mix of (quick ? ['q8_0'] : ['f32', 'q8_0', 'q4_K']) as QuantMix[]) {
    const path = syntheticModel(mix);
    for (const threads of threadCounts)
      rows.push(...engineRows(`qwen2.5-0.5B shape ${mix}`, path, threads, quick ? 32 : 64, quick ? 8 : 16));
  }
  // Attention is O(n²) in the prompt: prefill at 512 positions, then decode over that cache.
  for (const threads of threadCounts)
    rows.push(...engineRows('qwen2.5-0.5B shape q8_0', syntheticModel('q8_0'), threads, 512, quick ? 8 : 16));
  rows.push(...shardMemoryRows(syntheticModel('q8_0')));
}
if (wanted('network')) rows.push(...(await networkBenchRows({ quick, qwenShapeModel: syntheticModel('q8_0') })));
if (wanted('batching')) {
  const modelPath = syntheticModel('q8_0');
  const llamaCpp = (argv: number[]) =>
    measure('measure-llama-cpp.ts', [modelPath, ...argv]) as unknown as {
      aggregateDecodeTokensPerSecond: number;
      firstTokenSeconds: number;
    };
  rows.push(...(await batchingBenchRows({ quick, modelPath, label: 'qwen2.5-0.5B shape q8_0', llamaCpp })));
}
if (wanted('chain')) rows.push(...(await chainBenchRows({ quick })));
if (wanted('audit')) rows.push(...(await auditBenchRows({ quick })));
if (wanted('crypto')) rows.push(...cryptoBenchRows({ quick }));
if (wanted('cli')) rows.push(...cliBenchRows({ quick }));
if (wanted('join'))
  rows.push(
    ...(await (await import('./join.ts')).joinBenchRows({ quick, qwenShapeModel: () => syntheticModel('q8_0') })),
  );

if (args.has('--json')) console.log(JSON.stringify(rows, null, 2));
else printTable(rows);
