import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';

const packageJson = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
};

/**
 * Nodes that report the same engine version compute the same bytes (the engine is deterministic),
 * so a ticket is recomputed only by an engine of its own version.
 */
export const ENGINE_VERSION = `tessera-engine/${packageJson.version}`;
