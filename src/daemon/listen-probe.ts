/**
 * Drops default listen addresses the machine does not have (a host with IPv6 switched off has no ::1),
 * so the out-of-the-box config starts everywhere. Addresses the user configured are never dropped:
 * failing to listen there is an error the user must see.
 */
import net from 'node:net';
import type { ListenAddress } from '../config/types.js';
import type { Logger } from '../runtime/logger.js';

function hostAvailable(host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRNOTAVAIL' && err.code !== 'EAFNOSUPPORT'));
    probe.listen({ host, port: 0 }, () => probe.close(() => resolve(true)));
  });
}

export async function usableListen(addresses: ListenAddress[], logger: Logger, what: string): Promise<ListenAddress[]> {
  const usable: ListenAddress[] = [];
  for (const address of addresses) {
    if (!address.optional || (await hostAvailable(address.host))) usable.push(address);
    else
      logger.warn(
        { host: address.host, port: address.port },
        `${what}: this machine has no ${address.host} (IPv6 off?); listening without it`,
      );
  }
  return usable;
}
