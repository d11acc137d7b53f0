// The floor of our own stack: a bare http-proxy-3 pass-through, no policy, keep-alive to the upstream.
// node bench/bare-proxy.ts <upstream origin> <port> [--fetch]   (--fetch: http-proxy-3's fetch/undici path)
import http from 'node:http';
import { createProxyServer } from 'http-proxy-3';

const [target = 'http://127.0.0.1:8080', port = '0', mode = ''] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const proxy = createProxyServer(mode === '--fetch' ? { target, fetchOptions: {} } : { target, agent });
proxy.on('error', (_err, _req, res) => { if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end(); else res.destroy(); });
const server = http.createServer({ keepAlive: true }, (req, res) => proxy.web(req, res));
server.listen(Number(port), '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: (server.address() as { port: number }).port })));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
