import { availableParallelism } from 'node:os';

// A module of its own so that help can show it without loading the model code.
export const DEFAULT_THREADS = availableParallelism();
