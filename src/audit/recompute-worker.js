// Worker threads cannot load a .ts entry directly: register tsx in this thread first.
import { register } from 'tsx/esm/api';

register();
await import('./recompute-worker.ts');
