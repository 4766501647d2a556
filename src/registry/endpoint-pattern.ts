// A module of its own so that `tessera registry` can check --advertise and --seed without loading cluster-config.ts.
export const ENDPOINT_PATTERN = /^[^\s:/]+:\d{1,5}$/;
