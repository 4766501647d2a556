import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export { ENGINE_VERSION } from './engine-version.ts';
export const CLIENT_VERSION = `tessera/${packageJson.version}`;
