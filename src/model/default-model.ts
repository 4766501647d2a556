import { packagePath } from '../core/package-root.ts';

/** stories260K ships in the package (models/README.md), so the default model needs no network. */
export const DEFAULT_MODEL_PATH = packagePath('models', 'stories260K.gguf');
export const DEFAULT_MODEL_ID = 'stories260K';
