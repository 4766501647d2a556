/**
 * What `startGateway` uses when an option is left out; `tessera gateway` shows the same defaults.
 * A module of its own so that help can show them without loading the gateway.
 */
export const GATEWAY_DEFAULTS = {
  /** Requests that may wait for a slot; more are answered 429. */
  maxQueue: 128,
  /** Bytes of a request body (1 MiB). */
  maxBodyBytes: 1 << 20,
  /** Characters of a prompt (or of a chat's roles and contents together). */
  maxPromptChars: 512 * 1024,
};
