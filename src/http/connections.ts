// The connection gate in front of the HTTP server: counts client connections against --max-connections, lets the
// next --ops-reserve in for ops routes only, and answers any beyond with a canned 503 before a byte is parsed.
import type http from 'node:http';
import net, { type Socket } from 'node:net';
import { E, GatewayError } from '../errors.ts';
import type { Edge } from './edge.ts';

const OVERLOADED_BODY = JSON.stringify(new GatewayError(E.GW_ERR_OVERLOADED).toJSON());
/** The whole answer to a connection past the reserve, written before any request is read. */
const OVERLOADED_RESPONSE = Buffer.from(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(OVERLOADED_BODY)}\r\n`
  + `retry-after: 1\r\nconnection: close\r\n\r\n${OVERLOADED_BODY}`);
const noop = (): void => {};

/** Accepts client connections and hands them to `server`, counting them against maxConnections first. */
export class ConnectionGate {
  /** The listening socket server (the HTTP server never listens itself). */
  readonly acceptor: net.Server;
  readonly #edge: Edge;
  readonly #server: http.Server;
  /** Connections accepted into the ops reserve: while over --max-connections they may only use ops routes. */
  readonly #opsOnly = new WeakSet<Socket>();
  #open = 0;
  readonly #max: number;
  /** Connections accepted past maxConnections that may only use ops routes. */
  readonly reserve: number;
  #overloadLoggedAt = 0;

  constructor(edge: Edge, server: http.Server) {
    this.#edge = edge;
    this.#server = server;
    this.#max = edge.o.maxConnections ?? Infinity;
    this.reserve = edge.o.opsReserve ?? 32;
    this.acceptor = net.createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
  }

  /** True when the gateway is over its connection limit and this request's connection came in through the reserve. */
  opsOnly(socket: Socket): boolean {
    return this.#open > this.#max && this.#opsOnly.has(socket);
  }

  /**
   * Every client connection: counted, then handed to the HTTP server. Past maxConnections, the next `opsReserve`
   * connections are still read, but only ops routes answer on them; past that, a canned 503 is written and the
   * connection closed before any request is read — a fast answer that costs no parser and holds no descriptor.
   */
  #onConnection(socket: Socket): void {
    const open = ++this.#open;
    socket.once('close', this.#onClose);
    this.#edge.metrics.openConnections.inc();
    if (open <= this.#max) { this.#server.emit('connection', socket); return; }
    this.#noteOverload(open);
    if (open <= this.#max + this.reserve) {
      this.#opsOnly.add(socket);
      this.#server.emit('connection', socket);
      return;
    }
    this.#edge.metrics.connectionsRejected.inc();
    socket.on('error', noop);
    socket.end(OVERLOADED_RESPONSE);
    socket.resume(); // read and drop whatever the client sends, so closing does not reset the answer away
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  readonly #onClose = (): void => {
    this.#open--;
    this.#edge.metrics.openConnections.dec();
  };

  /** Logs that the connection limit is reached, at most every 10 s. */
  #noteOverload(open: number): void {
    const now = this.#edge.now();
    if (now - this.#overloadLoggedAt < 10_000) return;
    this.#overloadLoggedAt = now;
    this.#edge.log.warn({ open, maxConnections: this.#max, opsReserve: this.reserve }, 'connection limit reached: new connections get 503 (ops routes still answer within the reserve)');
  }
}
