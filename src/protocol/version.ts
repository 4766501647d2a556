import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';

const packageJson = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
};

export { ENGINE_VERSION } from '../model/engine-version.ts';
export const CLIENT_VERSION = `tessera/${packageJson.version}`;

/**
 * Names the rules of the Forward stream (proto/tessera/v1/node.proto, above `service Node`): what a
 * node signs and what it checks of the hops below it. Nodes report it in Info and a client routes
 * only through nodes of its own, as for the engine version. Raise it with any change to those rules.
 *
 * tessera-forward/3: each relay signs the hash of the signatures it relays (Commitment.relayed_hash)
 * and checks only its next hop's. Before it (no name in Info): every relay checked every signature
 * below it.
 */
export const FORWARD_PROTOCOL = 'tessera-forward/3';
