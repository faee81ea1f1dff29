import { startTestServer } from './test/helpers/imap-server.js';
const s = await startTestServer();
console.log('PORT', s.port);
setInterval(() => {}, 1000);
