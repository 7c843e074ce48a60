// Refuses to start a second server on a host:port another process listens on.
//
// uWS listens with SO_REUSEPORT, so a second process bound to the same port
// would join it and the kernel would split new connections between two
// servers with different databases. Only this process's own gateway threads
// may share the port (they share it on purpose). The probe binds a plain
// node:net server, without reusePort: that bind fails with EADDRINUSE while
// any other socket listens on the port, SO_REUSEPORT or not, and is released
// at once. Call it right before the gateway listens. Cold path.

import { createServer } from 'node:net';

export const PORT_IN_USE = 'MMO_ERR_PORT_IN_USE';

export class PortInUseError extends Error {
  readonly code = PORT_IN_USE;
  constructor(
    readonly host: string,
    readonly port: number,
    detail: string,
  ) {
    super(`${host}:${port} is already in use by another process (${detail}); stop it or choose another net.port`);
    this.name = 'PortInUseError';
  }
}

/**
 * Resolves when nothing else listens on host:port; rejects with
 * PortInUseError (code MMO_ERR_PORT_IN_USE) when something does. Port 0 (an
 * ephemeral port) needs no probe. Other bind errors (EACCES for a low port,
 * EADDRNOTAVAIL for a foreign address) are left to the real listen, which
 * reports them itself.
 */
export function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.close();
      if (err.code === 'EADDRINUSE') reject(new PortInUseError(host, port, err.code));
      else resolve();
    });
    probe.listen({ host, port, exclusive: true, backlog: 1 }, () => probe.close(() => resolve()));
  });
}
