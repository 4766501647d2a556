import { connect, type ClusterStatus } from '../../client/client.ts';
import { formatSpan, spanOf } from '../../model/shards/span.ts';
import type { DiscoveredNode } from '../../registry/registry-client.ts';
import { networkFailure } from '../network-errors.ts';
import { registriesOf } from '../registry-option.ts';
import type { StatusOptions } from './status.ts';

/** The node's state as an operator reads it: UNSTAKING with the end of its cooldown, no new work said plainly. */
function stateOf(node: DiscoveredNode): string {
  const state = node.state || 'UNKNOWN';
  if (node.unstakingUntilMs !== undefined)
    return `${state} until ${new Date(node.unstakingUntilMs).toISOString()} (no new sessions)`;
  return node.eligible === false ? `${state} (no new sessions: stake below the minimum)` : state;
}

/** Each shard with the nodes holding it (a node holding a span is listed at each of its shards, with its span). */
export function formatStatus(status: ClusterStatus): string {
  const lines = [`registries: ${status.registries.join(', ')}`];
  if (status.models.length === 0) lines.push('no models served');
  for (const model of status.models) {
    lines.push(
      '',
      `model ${model.modelId} (${model.architecture}, ${model.shards} shard${model.shards === 1 ? '' : 's'}, price ${model.pricePer1kTokens} per 1k tokens)`,
    );
    for (const shard of model.shardsCoverage) {
      const count =
        shard.nodes.length === 0 ? 'NO NODE' : `${shard.nodes.length} node${shard.nodes.length === 1 ? '' : 's'}`;
      lines.push(`  shard ${shard.shardIndex}  layers ${shard.layerStart}-${shard.layerEnd - 1}  ${count}`);
      for (const n of shard.nodes) {
        lines.push(
          `    ${n.nodeId}  ${stateOf(n)}  ${n.endpoint}${n.tls ? ' (tls)' : ''}  tier ${n.tier || '?'}  network ${n.network || '?'}  sessions ${n.activeSessions}/${n.maxSessions}  ${n.computeUsPerToken} us/token  price ${n.pricePer1kTokens}  holds ${formatSpan(spanOf(n))}`,
        );
      }
    }
    lines.push(
      model.uncovered.length === 0
        ? '  coverage: every shard has a node'
        : `  coverage: INCOMPLETE, no node for shard${model.uncovered.length === 1 ? '' : 's'} ${model.uncovered.join(', ')}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export async function statusCommand(options: StatusOptions): Promise<void> {
  try {
    const client = await connect({ registries: registriesOf(options) });
    try {
      const status = await client.status();
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    } finally {
      client.close();
    }
  } catch (error) {
    throw networkFailure(error);
  }
}
