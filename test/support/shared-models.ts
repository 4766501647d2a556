import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/models beside the checkout: small real models that tests must have (never skip without them). */
export const SHARED_MODELS = fileURLToPath(new URL('../../../shared/models/', import.meta.url));

export function sharedModel(name: string): string {
  return join(SHARED_MODELS, name);
}
