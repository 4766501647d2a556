import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's root folder, holding package.json, models/, proto/ and bin/. Sources run from src/
 * (tests, tsx) and the build from dist/ (tsconfig.build.json, rootDir src): both sit one folder below
 * the root and keep src's layout, so this one relative step is right from either, and files that are
 * not compiled (the wasm kernels, the contract artifact) are read from src/ in both cases.
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A file of the package, by its path from the root (e.g. 'models/stories260K.gguf'). */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
