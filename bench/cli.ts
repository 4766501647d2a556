// How fast the CLI starts: `tessera --help` from the build in dist/ against the same command run from
// the sources through tsx (what every command cost before dist/), and how long a Qwen-sized
// (151,936-entry, ~150k-merge) byte-level BPE tokenizer takes to load in a fresh process.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GgufValueType } from '../src/model/gguf/value.ts';
import { GgufMetadataBuilder, writeGguf } from '../src/model/gguf/writer.ts';
import { QWEN2_5_0_5B } from '../test/support/synthetic-model.ts';
import { buildSyntheticBpeVocab } from '../test/support/synthetic-vocab.ts';
import type { BenchRow } from './row.ts';

export interface CliBenchOptions {
  /** Fewer runs per figure. */
  readonly quick?: boolean;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median wall time of `node ARGS` to its exit, in ms. */
function wallMs(args: readonly string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    times.push(performance.now() - start);
  }
  return median(times);
}

/** A GGUF holding only a Qwen2.5-sized tokenizer (no tensors), written once into the bench cache. */
function qwenTokenizerFile(): string {
  const dir = join(ROOT, '.cache', 'bench');
  const path = join(dir, `tokenizer-${QWEN2_5_0_5B.vocabSize}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`writing ${path} (synthetic vocabulary) ...\n`);
  const vocab = buildSyntheticBpeVocab(QWEN2_5_0_5B.vocabSize, 1);
  const metadata = new GgufMetadataBuilder()
    .string('general.architecture', QWEN2_5_0_5B.architecture)
    .string('tokenizer.ggml.model', 'gpt2')
    .string('tokenizer.ggml.pre', QWEN2_5_0_5B.tokenizerPre)
    .array('tokenizer.ggml.tokens', GgufValueType.STRING, vocab.tokens)
    .array('tokenizer.ggml.token_type', GgufValueType.INT32, [...vocab.tokenTypes])
    .array('tokenizer.ggml.merges', GgufValueType.STRING, vocab.merges)
    .u32('tokenizer.ggml.eos_token_id', vocab.tokens.length - 1);
  writeGguf(path, { metadata, tensors: [] });
  return path;
}

/** Median time openTokenizerFile takes in a fresh process running the build (cold, as a CLI meets it), in ms. */
function tokenizerLoadMs(path: string, runs: number): number {
  const script = `
    const { openTokenizerFile } = await import(${JSON.stringify(join(ROOT, 'dist/model/shards/tokenizer-file.js'))});
    const start = performance.now();
    const { tokenizer } = openTokenizerFile(process.argv[1]);
    const ms = performance.now() - start;
    if (tokenizer.encode('Once upon a time').length === 0) throw new Error('the tokenizer encoded nothing');
    console.log(ms);`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, path], { encoding: 'utf8' });
    times.push(Number(out.trim()));
  }
  return median(times);
}

export function cliBenchRows(options: CliBenchOptions = {}): BenchRow[] {
  const runs = options.quick ? 3 : 7;
  // bin/tessera.js runs dist/ only when it is newer than every source: build it now.
  process.stderr.write('building dist/ ...\n');
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-dist.js')], { cwd: ROOT, stdio: 'inherit' });
  process.stderr.write('measuring tessera --help ...\n');
  const help = wallMs(['bin/tessera.js', '--help'], runs);
  const fromSources = wallMs(['--import', 'tsx', 'src/cli/main.ts', '--help'], runs);
  const tokenizerPath = qwenTokenizerFile();
  process.stderr.write('measuring tokenizer load ...\n');
  const tokenizerMs = tokenizerLoadMs(tokenizerPath, runs);
  return [
    {
      figure: 'tessera --help, wall time of the process (dist/ build)',
      ours: help,
      reference: fromSources,
      referenceName: 'sources through tsx',
      unit: 'ms',
    },
    {
      figure: `tokenizer load, ${QWEN2_5_0_5B.vocabSize}-entry byte-level BPE vocabulary with its merges, fresh process`,
      ours: tokenizerMs,
      unit: 'ms',
    },
  ];
}
