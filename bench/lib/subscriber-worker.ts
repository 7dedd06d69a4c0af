/**
 * A child process of bench/subscriptions.bench.ts: holds SUBSCRIBERS graphql-ws subscribers of
 * `stockChanged` (each on its own WebSocket) to URL, and reports to its parent over IPC:
 * `{ type: 'ready', connected }` once every subscriber has sent its subscription, then for every
 * event `{ stock }` the parent asks about (`{ type: 'watch', stock }`), each subscriber's receipt
 * time (epoch ms, sub-millisecond) as `{ type: 'received', stock, times, missing }`.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.URL!;
const count = Number(process.env.SUBSCRIBERS);
const productId = process.env.PRODUCT_ID!;
const query = 'subscription($ids: [ID!]) { stockChanged(productIds: $ids) { stock } }';
const now = () => performance.timeOrigin + performance.now();

/** Receipt times per stock value, per subscriber. */
const received = new Map<number, number[]>();
const seen = new Array<number>(count).fill(0);
const clients: Client[] = [];
const failures: string[] = [];

async function main() {
  for (let i = 0; i < count; i += 100) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) {
      const client = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
      clients.push(client);
      batch.push(
        new Promise<void>((resolve) => {
          const off = client.on('connected', () => {
            off();
            resolve();
          });
          client.subscribe<{ stockChanged: { stock: number } }>({ query, variables: { ids: [productId] } }, {
            next: (r) => {
              const t = now();
              const stock = r.data?.stockChanged.stock;
              if (stock === undefined) return void failures.push(JSON.stringify(r.errors ?? r));
              seen[j] = (seen[j] ?? 0) + 1;
              let times = received.get(stock);
              if (!times) received.set(stock, (times = new Array<number>(count).fill(0)));
              times[j] = t;
            },
            error: (e) => void failures.push(String(e instanceof Error ? e.message : JSON.stringify(e))),
            complete: () => undefined,
          });
        }),
      );
    }
    await Promise.all(batch);
  }
  process.send!({ type: 'ready', connected: clients.length });
}

process.on('message', (message: { type: string; stock?: number }) => {
  if (message.type === 'live') {
    process.send!({ type: 'live', live: seen.filter((n) => n > 0).length, failures: failures.slice(0, 5), failureCount: failures.length });
  } else if (message.type === 'watch') {
    const times = received.get(message.stock!) ?? [];
    const got = times.filter((t) => t > 0);
    process.send!({ type: 'received', stock: message.stock, times: got, missing: count - got.length });
  } else if (message.type === 'stop') {
    void Promise.all(clients.map(async (c) => c.dispose())).finally(() => process.exit(0));
  }
});

main().catch((error: unknown) => {
  process.stderr.write(`subscriber worker failed: ${String(error)}\n`);
  process.exit(1);
});
