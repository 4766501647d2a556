import { createServer, type Server, type Socket } from 'node:net';

/**
 * An attacker's listener on 127.0.0.1 that counts every TCP connection made to it and drops it: a
 * role that dials where a stranger pointed it shows up here, whatever it meant to say.
 */
export class ConnectionCounter {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  connections = 0;
  endpoint = '';

  constructor() {
    this.#server = createServer((socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.destroy();
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `127.0.0.1:${(this.#server.address() as { port: number }).port}`;
    return this.endpoint;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
