import fs from 'node:fs';
const rss=()=>{const s=fs.readFileSync('/proc/self/status','utf8');return ['RssAnon','RssFile'].map(k=>Number(new RegExp(k+':\\s*(\\d+)').exec(s)[1])/1024)};
const mods=process.argv.slice(2);
let [a0,f0]=rss(); let h0=process.memoryUsage().heapUsed;
for(const m of mods){await import(m.startsWith('/')?m:m); globalThis.gc?.(); const [a,f]=rss(); const h=process.memoryUsage().heapUsed; console.log(m.padEnd(60), 'anon +'+(a-a0).toFixed(1),'file +'+(f-f0).toFixed(1),'heapUsed +'+((h-h0)/1048576).toFixed(1)); a0=a;f0=f;h0=h;}
