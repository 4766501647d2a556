// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


export interface Opened {
  'nodeId'?: (string);
  /**
   * The node takes a step in parts (Step.partial): the hop before it sends it none otherwise, as a
   * node that predates parts would answer each part as a step.
   */
  'takesParts'?: (boolean);
}

export interface Opened__Output {
  'nodeId': (string);
  /**
   * The node takes a step in parts (Step.partial): the hop before it sends it none otherwise, as a
   * node that predates parts would answer each part as a step.
   */
  'takesParts': (boolean);
}
