import { WebSocket, type WebSocketServer } from 'ws';

/**
 * Close code for a socket that does not read what it is sent. 1013 ("try again later") is one
 * graphql-ws clients retry by themselves, so a client that was only slow for a while comes back.
 */
export const SLOW_SOCKET_CLOSE_CODE = 1013;

type SendOptions = Exclude<Parameters<WebSocket['send']>[1], ((err?: Error) => void) | undefined>;

/**
 * A server-side WebSocket that counts its sends as they are flushed to the operating system,
 * so that a socket that stopped making progress can be told from one that is merely busy.
 */
export class TrackedWebSocket extends WebSocket {
  sent = 0;
  flushed = 0;

  override send(data: Parameters<WebSocket['send']>[0], options?: SendOptions | ((err?: Error) => void), callback?: (err?: Error) => void): void {
    const done = typeof options === 'function' ? options : callback;
    this.sent++;
    super.send(data, typeof options === 'function' || options === undefined ? {} : options, (error?: Error) => {
      this.flushed++;
      done?.(error);
    });
  }
}

export interface SlowSocketOptions {
  /** Unsent bytes a socket may hold (in the WebSocket's queue and the TCP socket's buffer) while stalled. */
  maxBufferedBytes: number;
  /** How long a socket may hold unsent data without a single send reaching the operating system. */
  sendTimeoutMs: number;
  /** Told about every socket closed for being slow. */
  onClose?: (detail: { bufferedBytes: number; stalledMs: number }) => void;
}

/** Time allowed for the close frame before the socket is destroyed (it may never be read either). */
const CLOSE_GRACE_MS = 1000;

/**
 * Bounds what a client that does not read costs the gateway. Once the kernel's buffers are
 * full, sends stop completing and data waits in the process. A socket on which no send has
 * completed for `sendTimeoutMs` while data waits, or that holds more than `maxBufferedBytes`
 * unsent while making no progress, is closed with SLOW_SOCKET_CLOSE_CODE and destroyed shortly
 * after: its subscriptions end and everything buffered for them is released. A client that
 * reads, however busy, keeps completing sends and is never closed.
 * The server must create its sockets as TrackedWebSocket (WebSocketServer's `WebSocket` option).
 */
export function guardSlowSockets(wss: WebSocketServer, options: SlowSocketOptions): { stop(): void } {
  const progress = new WeakMap<WebSocket, { flushed: number; since: number }>();
  const checkEveryMs = Math.max(50, Math.min(1000, options.sendTimeoutMs / 4));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const socket of wss.clients) {
      if (!(socket instanceof TrackedWebSocket) || socket.readyState !== socket.OPEN) continue;
      const last = progress.get(socket);
      if (socket.flushed === socket.sent || !last || last.flushed !== socket.flushed) {
        progress.set(socket, { flushed: socket.flushed, since: now });
        continue;
      }
      const stalledMs = now - last.since;
      const buffered = socket.bufferedAmount;
      if (stalledMs < options.sendTimeoutMs && (buffered <= options.maxBufferedBytes || stalledMs < checkEveryMs)) continue;
      options.onClose?.({ bufferedBytes: buffered, stalledMs });
      socket.close(SLOW_SOCKET_CLOSE_CODE, `too slow: nothing read for ${Math.round(stalledMs / 1000)} s`);
      setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
    }
  }, checkEveryMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
