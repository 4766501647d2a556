import { readFileSync } from 'node:fs';
import { packagePath } from '../core/package-root.ts';

const packageJson = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
};

export { ENGINE_VERSION } from '../model/engine-version.ts';
export const CLIENT_VERSION = `tessera/${packageJson.version}`;
