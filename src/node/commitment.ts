// Commitments moved to src/audit (the registry checks them too, and it sits above src/node);
// re-exported here for the node's and the client's existing imports.
export * from '../audit/commitment.ts';
