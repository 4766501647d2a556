import { createServer } from 'node:net';
import { CliError } from './cli-error.ts';

/** Binds `host:port` for a moment: the port it got (the free one picked for 0), or undefined when in use. */
function tryBind(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(undefined);
      else reject(new CliError(`cannot listen on ${host}:${port}: ${error.message}`, 1, { kind: 'unavailable' }));
    });
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

export interface PortRequest {
  /** Which role listens there, for the messages ("the registry", "the gateway"). */
  readonly role: string;
  readonly host: string;
  /** The port a flag named (0: any free port); undefined when none did. */
  readonly explicit?: number;
  /** The documented default, taken when no flag names a port and it is free. */
  readonly preferred: number;
  /** The flag that names the port, for the message when that port is taken. */
  readonly flag: string;
}

export interface ChosenPort {
  readonly port: number;
  /** Set when the preferred port was in use: the one line that says which port was taken instead. */
  readonly notice?: string;
}

/**
 * The port a role of `tessera up` listens on: the one a flag named (which must be free, since the
 * user asked for it), else its documented default when free, else a free port, said in `notice`.
 * The roles bind it a moment later, so another program may still take it meanwhile: the role's
 * start then fails with the port in its message.
 */
export async function choosePort(request: PortRequest): Promise<ChosenPort> {
  const { role, host, explicit, preferred, flag } = request;
  if (explicit === 0) return { port: 0 };
  if (explicit !== undefined) {
    if ((await tryBind(host, explicit)) === undefined)
      throw new CliError(`port ${explicit} is in use (${flag}): pick another, or ${flag} 0 for any free port`);
    return { port: explicit };
  }
  if ((await tryBind(host, preferred)) !== undefined) return { port: preferred };
  const port = await tryBind(host, 0);
  if (port === undefined) throw new CliError(`no free port on ${host} for ${role}`, 1, { kind: 'unavailable' });
  return { port, notice: `port ${preferred} is in use; ${role} listens on ${host}:${port}` };
}
