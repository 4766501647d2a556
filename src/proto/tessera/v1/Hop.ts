// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


/**
 * One hop of a route: the node that runs the manifest's shards [shard_index, shard_end) for this
 * session, a span of the shards it holds (a node may run part of what it holds, as Petals servers
 * do). The route's spans tile the model: the first starts at shard 0, each next starts where the one
 * before it ended, the last ends at the manifest's last shard. In a manifest with one shard per
 * layer a span is any layer range; with a pre-cut manifest, any run of its shards.
 */
export interface Hop {
  'nodeId'?: (string);
  'endpoint'?: (string);
  /**
   * The span's first shard.
   */
  'shardIndex'?: (number);
  /**
   * Whether the node serves TLS at `endpoint` (as its registration says), so the hop before it
   * connects the right way.
   */
  'tls'?: (boolean);
  /**
   * One past the span's last shard (> shard_index).
   */
  'shardEnd'?: (number);
}

/**
 * One hop of a route: the node that runs the manifest's shards [shard_index, shard_end) for this
 * session, a span of the shards it holds (a node may run part of what it holds, as Petals servers
 * do). The route's spans tile the model: the first starts at shard 0, each next starts where the one
 * before it ended, the last ends at the manifest's last shard. In a manifest with one shard per
 * layer a span is any layer range; with a pre-cut manifest, any run of its shards.
 */
export interface Hop__Output {
  'nodeId': (string);
  'endpoint': (string);
  /**
   * The span's first shard.
   */
  'shardIndex': (number);
  /**
   * Whether the node serves TLS at `endpoint` (as its registration says), so the hop before it
   * connects the right way.
   */
  'tls': (boolean);
  /**
   * One past the span's last shard (> shard_index).
   */
  'shardEnd': (number);
}
