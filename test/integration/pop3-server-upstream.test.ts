/**
 * What a POP3 client's deletion does at the provider follows the account's delete_on_expunge, exactly
 * as an IMAP expunge does: the real daemon fetches mail from the lab's Dovecot (the provider), a POP3
 * client of hotbridge DELEs it and QUITs, and the upstream copy goes (delete_on_expunge = true) or stays
 * (false). Also: `hotbridge status` counts the POP3 sessions.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startCompatBridge, waitForInboxCount, waitUntil, type CompatBridge } from '../helpers/clients.js';
import { simpleMessage } from '../helpers/messages.js';

/** One POP3 session of commands, answered in order; resolves with everything the server said. */
function pop3(port: number, user: string, password: string, commands: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('connect', () => socket.write([`USER ${user}`, `PASS ${password}`, ...commands, 'QUIT', ''].join('\r\n')));
    socket.once('close', () => resolve(text));
    socket.once('error', reject);
  });
}

describe.each([true, false])('POP3 DELE with delete_on_expunge = %s', (deleteOnExpunge) => {
  let bridge: CompatBridge;
  beforeAll(async () => {
    bridge = await startCompatBridge({ accountExtra: `delete_on_expunge = ${deleteOnExpunge}` });
  });
  afterAll(async () => {
    await bridge?.stop();
  });

  it(`${deleteOnExpunge ? 'deletes' : 'keeps'} the provider's copy`, async () => {
    const lab = bridge.lab!;
    await lab.injectMessage(bridge.address, simpleMessage(1));
    await waitForInboxCount(bridge, 1);
    const said = await pop3(bridge.config.pop3Port, bridge.address, bridge.password, ['DELE 1']);
    expect(said).toContain('+OK Message 1 deleted\r\n+OK Logging out, 1 message deleted\r\n');
    if (deleteOnExpunge) {
      await waitUntil('the upstream copy to be deleted', async () => (await lab.maildirCount(bridge.address)) === 0, 20_000);
    } else {
      // A later poll leaves it there, and the local copy does not come back.
      const status = async () =>
        JSON.parse((await runCli(['status', '--json', '--config', bridge.config.file])).stdout) as {
          accounts: Array<{ pop3: { lastSuccessAt?: string } }>;
        };
      const first = (await status()).accounts[0].pop3.lastSuccessAt;
      await waitUntil('two more polls', async () => (await status()).accounts[0].pop3.lastSuccessAt !== first, 20_000);
      expect(await lab.maildirCount(bridge.address)).toBe(1);
      expect(await pop3(bridge.config.pop3Port, bridge.address, bridge.password, ['STAT'])).toContain('+OK 0 0\r\n');
    }
  });

  it('hotbridge status counts the POP3 sessions', async () => {
    const result = await runCli(['status', '--json', '--config', bridge.config.file]);
    expect(result.code, result.stderr).toBe(0);
    const snapshot = JSON.parse(result.stdout) as {
      listeners: { pop3: { addresses: Array<{ port: number }>; connections: number; sessions: number } };
    };
    expect(snapshot.listeners.pop3.addresses.map((a) => a.port)).toEqual([bridge.config.pop3Port]);
    expect(snapshot.listeners.pop3.sessions).toBeGreaterThanOrEqual(1);
    const text = await runCli(['status', '--config', bridge.config.file]);
    expect(text.stdout).toMatch(new RegExp(`POP3: 127\\.0\\.0\\.1:${bridge.config.pop3Port} \\(0 connected, \\d+ sessions since start\\)`));
  });
});
