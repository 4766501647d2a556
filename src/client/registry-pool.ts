import { status, type ServiceError } from '@grpc/grpc-js';
import { RegistryClient } from '../registry/registry-client.ts';

export class UnknownModelError extends Error {
  readonly code = 'UNKNOWN_MODEL';
  constructor(
    readonly modelId: string,
    detail: string,
  ) {
    super(`unknown model ${modelId}: ${detail}`);
  }
}

export class RegistriesUnavailableError extends Error {
  readonly code = 'REGISTRIES_UNAVAILABLE';
}

/**
 * The registries a client knows: the seeds it was given plus those it learns by ExchangePeers. A call
 * goes to the registry that answered last and moves on to the next when one fails, so one registry
 * going away costs a client nothing while another answers.
 */
export class RegistryPool {
  private readonly clients = new Map<string, RegistryClient>();
  private order: string[];

  constructor(
    seeds: readonly string[],
    private readonly deadlineMs: number,
  ) {
    if (seeds.length === 0) throw new Error('no registry given: name at least one as HOST:PORT');
    this.order = [...new Set(seeds)];
  }

  /** Every registry known so far, the one answering first. */
  get endpoints(): readonly string[] {
    return this.order;
  }

  /** Asks the known registries for the registries they know, and adds them. */
  async exchangePeers(): Promise<void> {
    const learned = await this.call((client) => client.exchangePeers('', this.order));
    for (const peer of learned)
      if (peer.endpoint && !this.order.includes(peer.endpoint)) this.order.push(peer.endpoint);
  }

  /**
   * Runs `action` against one registry after another until one answers. NOT_FOUND from every
   * registry becomes an UnknownModelError (for `modelId`); no answer at all a RegistriesUnavailableError.
   */
  async call<T>(action: (client: RegistryClient) => Promise<T>, modelId?: string): Promise<T> {
    const failures: string[] = [];
    let notFound: string | undefined;
    for (const endpoint of [...this.order]) {
      try {
        const result = await action(this.client(endpoint));
        this.order = [endpoint, ...this.order.filter((e) => e !== endpoint)];
        return result;
      } catch (error) {
        const e = error as ServiceError;
        // Only a gRPC status (a number) says this registry failed; anything else, such as a
        // TesseraError for a manifest it served, is its answer, not an outage to retry elsewhere.
        if (typeof e.code !== 'number') throw error;
        if (e.code === status.NOT_FOUND) notFound = e.details || e.message;
        failures.push(`${endpoint}: ${e.details || e.message}`);
      }
    }
    if (notFound !== undefined && modelId !== undefined) throw new UnknownModelError(modelId, notFound);
    throw new RegistriesUnavailableError(`no registry answered (${failures.join('; ')})`);
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(endpoint: string): RegistryClient {
    let client = this.clients.get(endpoint);
    if (!client) {
      client = new RegistryClient(endpoint, { deadlineMs: this.deadlineMs });
      this.clients.set(endpoint, client);
    }
    return client;
  }
}
