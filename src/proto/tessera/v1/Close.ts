// @ts-nocheck -- generated from proto/ by scripts/gen-proto.js
// Original file: proto/tessera/v1/node.proto


/**
 * Asks for the StepSignatures still owed; the node passes it on, sends them, then Closed (see the rule
 * above Node). Steps after it are refused; the session ends when the client half-closes the stream.
 */
export interface Close {
}

/**
 * Asks for the StepSignatures still owed; the node passes it on, sends them, then Closed (see the rule
 * above Node). Steps after it are refused; the session ends when the client half-closes the stream.
 */
export interface Close__Output {
}
