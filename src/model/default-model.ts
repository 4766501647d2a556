import { fileURLToPath } from 'node:url';

/** stories260K ships in the package (models/README.md), so the default model needs no network. */
export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../../models/stories260K.gguf', import.meta.url));
export const DEFAULT_MODEL_ID = 'stories260K';
