import type { ClientUnaryCall, ServiceError } from '@grpc/grpc-js';

type Callback<T> = (error: ServiceError | null, reply?: T) => void;

/**
 * Unary gRPC calls as promises, each with a deadline, tracked so that closing a client cancels the
 * calls still in flight instead of waiting out their deadlines (a hung peer must not hold a
 * shutdown open).
 */
export class UnaryCalls {
  readonly #inFlight = new Set<ClientUnaryCall>();

  constructor(private readonly deadlineMs: number) {}

  /** Call options with a fresh deadline. */
  options(): { deadline: number } {
    return { deadline: Date.now() + this.deadlineMs };
  }

  call<T>(start: (callback: Callback<T>) => ClientUnaryCall): Promise<T> {
    return new Promise((resolve, reject) => {
      const call = start((error, reply) => {
        this.#inFlight.delete(call);
        if (error) reject(error);
        else resolve(reply as T);
      });
      this.#inFlight.add(call);
    });
  }

  /** Cancels every call in flight: they reject with CANCELLED. */
  cancelAll(): void {
    for (const call of this.#inFlight) call.cancel();
  }
}
