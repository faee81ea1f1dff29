// Child process for the token store SIGKILL test: saves token sets in a loop as fast as it can and
// prints "saved N" after each save returns, until it is killed.
import { TokenStore } from '../../../../src/upstream/oauth/token-store.js';

const [dataDir, address] = process.argv.slice(2);
const store = new TokenStore(dataDir);
// Large values make each write take long enough to be caught in the middle.
const filler = 'x'.repeat(200_000);
for (let n = 1; ; n++) {
  store.save(address, { accessToken: `access-${n}-${filler}`, refreshToken: `refresh-${n}`, expiresAt: n });
  process.stdout.write(`saved ${n}\n`);
}
