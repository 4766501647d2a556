import { status, type ServiceError } from '@grpc/grpc-js';
import type { Block } from '../../chain/block.ts';
import { DaemonClient } from '../../chain/daemon-client.ts';
import type { SettlementSummary } from '../../chain/summary.ts';
import { hex } from '../../crypto/hash.ts';
import { openReceipt, receiptHashOf } from '../../protocol/receipt.ts';
import { openShare, shareHashOf } from '../../protocol/share.ts';
import { CliError } from '../cli-error.ts';
import { findDaemon } from '../find-daemon.ts';
import { registriesOf } from '../registry-option.ts';
import { RECENT_BLOCKS, type ChainOptions } from './chain.ts';

export async function blocksCommand(options: ChainOptions & { from?: number; to?: number }): Promise<void> {
  await withDaemon(options, (client) => showBlocks(client, options));
}

export async function blockCommand(height: number, options: ChainOptions): Promise<void> {
  await withDaemon(options, (client) => showBlock(client, height, options));
}

export async function summaryCommand(window: number, options: ChainOptions): Promise<void> {
  await withDaemon(options, (client) => showSummary(client, window, options));
}

/** --daemon, else the daemon the registry lists (`tessera up` puts it on whatever port was free). */
async function withDaemon(options: ChainOptions, work: (client: DaemonClient) => Promise<void>): Promise<void> {
  const endpoint = options.daemon ?? (await findDaemon(registriesOf(options)));
  const client = new DaemonClient(endpoint, { deadlineMs: 15_000 });
  try {
    await work(client);
  } catch (error) {
    const e = error as ServiceError;
    if (e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED) {
      throw new CliError(
        `no daemon answers at ${endpoint} (${e.details}); start one with \`tessera daemon\` or pass --daemon HOST:PORT`,
        1,
        { kind: 'unavailable' },
      );
    }
    if (typeof e.code === 'number') throw new CliError(`daemon ${endpoint}: ${status[e.code]}: ${e.details}`);
    throw error;
  } finally {
    client.close();
  }
}

const short = (value: string) => (value.length > 14 ? `${value.slice(0, 8)}…${value.slice(-4)}` : value);

function headerJson(block: Block) {
  return { hash: hex(block.hash), ...block.header };
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return `${cells
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

async function showBlocks(client: DaemonClient, options: ChainOptions & { from?: number; to?: number }): Promise<void> {
  const { head } = await client.head();
  const to = Math.min(options.to ?? head.header.height, head.header.height);
  const from = options.from ?? Math.max(0, to - RECENT_BLOCKS + 1);
  const blocks: Block[] = [];
  for (let next = from; next <= to;) {
    const page = await client.blocks(next, to, true);
    if (page.blocks.length === 0) break;
    blocks.push(...page.blocks);
    next = page.blocks.at(-1)!.header.height + 1;
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(blocks.map(headerJson), null, 2)}\n`);
    return;
  }
  process.stdout.write(
    table(
      ['height', 'hash', 'producer', 'time', 'shares', 'tokens', 'fee/token'],
      blocks.map((b) => [
        b.header.height,
        short(hex(b.hash)),
        b.header.producer === '' ? 'genesis' : short(b.header.producer),
        new Date(b.header.timestampMs).toISOString(),
        b.header.shareCount,
        b.header.tokens,
        b.header.baseFeePerToken,
      ]),
    ),
  );
}

async function showBlock(client: DaemonClient, height: number, options: ChainOptions): Promise<void> {
  const block = await client.block(height);
  const shares = block.shares.map((s) => ({ hash: shareHashOf(s.payload).toString('hex'), ...openShare(s.payload) }));
  const receipts = block.receipts.map((r) => ({
    hash: receiptHashOf(r.payload).toString('hex'),
    ...openReceipt(r.payload),
  }));
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({ ...headerJson(block), signature: hex(block.signedHeader.signature), shares, receipts }, null, 2)}\n`,
    );
    return;
  }
  const h = block.header;
  const lines = [
    `block ${h.height}  ${hex(block.hash)}`,
    `parent      ${h.parentHash}`,
    `producer    ${h.producer === '' ? '(genesis)' : h.producer}`,
    `time        ${new Date(h.timestampMs).toISOString()} (slot ${h.slot})`,
    `shares      ${h.shareCount} (${h.tokens} tokens)`,
    `fee/token   ${h.baseFeePerToken}`,
    `receipts    ${receipts.length}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (shares.length > 0) {
    process.stdout.write(
      `\n${table(
        // A share's shardIndex is its node's position in the receipt's route.
        ['share', 'node', 'hop', 'tokens', 'session'],
        shares.map((s) => [short(s.hash), s.nodeId, s.shardIndex, s.tokensProcessed, short(s.sessionHash)]),
      )}`,
    );
  }
}

async function showSummary(client: DaemonClient, window: number, options: ChainOptions): Promise<void> {
  const summary: SettlementSummary = await client.settlementSummary(window);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify(summary, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value), 2)}\n`,
    );
    return;
  }
  const lines = [
    `window ${summary.window}: blocks ${summary.fromHeight}-${summary.toHeight} (last ${summary.lastBlockHash})`,
    `hash        ${summary.hash}`,
    `totals      ${summary.totalShares} shares, ${summary.totalTokens} tokens, fees ${summary.totalFees}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (summary.flows.length > 0)
    process.stdout.write(
      `\n${table(
        ['client (pays)', 'node (is paid)', 'shares', 'tokens', 'fees'],
        summary.flows.map((f) => [f.client, f.nodeId, f.shares, f.tokens, String(f.fees)]),
      )}`,
    );
}
