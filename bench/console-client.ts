// A console client for the `gw-console` row: reads the live decision stream the way the page does (SSE over fetch, the
// admin key in a header) and throws the events away; on SIGTERM prints how many it received.
// node bench/console-client.ts <console origin> <admin key>
const [origin = 'http://127.0.0.1:5001', key = ''] = process.argv.slice(2);
let events = 0;
let bytes = 0;
process.once('SIGTERM', () => { console.log(JSON.stringify({ msg: 'console client done', events, bytes })); process.exit(0); });
const res = await fetch(`${origin}/console/api/stream`, { headers: { authorization: `Bearer ${key}` } });
if (!res.ok || !res.body) { console.error(`console stream refused: ${res.status} ${await res.text()}`); process.exit(1); }
console.log(JSON.stringify({ msg: 'console client connected' }));
const decoder = new TextDecoder();
for await (const chunk of res.body) {
  bytes += chunk.byteLength;
  const text = decoder.decode(chunk, { stream: true });
  for (let i = text.indexOf('event: decision'); i !== -1; i = text.indexOf('event: decision', i + 1)) events++;
}
