// A console client for the `gw-console` row: reads the live decision stream (/console/api/stream, the admin key in a
// header) as a browser tab would, counting its events without decoding them; on SIGTERM prints how many it received.
// node bench/console-client.ts <console origin> <admin key>
import http from 'node:http';

const [origin = 'http://127.0.0.1:5001', key = ''] = process.argv.slice(2);
const MARK = Buffer.from('event: decision');
let events = 0;
let bytes = 0;
process.once('SIGTERM', () => { console.log(JSON.stringify({ msg: 'console client done', events, bytes })); process.exit(0); });
http.get(`${origin}/console/api/stream`, { headers: { authorization: `Bearer ${key}` } }, (res) => {
  if (res.statusCode !== 200) { console.error(`console stream refused: ${res.statusCode}`); process.exit(1); }
  console.log(JSON.stringify({ msg: 'console client connected' }));
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf(MARK); i !== -1; i = chunk.indexOf(MARK, i + MARK.length)) events++;
  });
}).on('error', (err) => { console.error(`console stream failed: ${err.message}`); process.exit(1); });
