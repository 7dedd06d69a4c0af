import type { PubSub } from '../../platform/pubsub/pubsub.js';
import { ORDER_STATUS_CHANNEL, type OrderStatusNotification } from '../../subgraphs/order/read-model/read-model.js';

export interface OrderSettlements {
  /** Resolves with the first status after PENDING the orders projection announces for the order (also if it came first). */
  settled: (orderId: string) => Promise<string>;
  /** Stops listening. */
  stop: () => Promise<void>;
}

/** Listens to the orders projection's status notifications and tells when each order has settled. */
export function watchSettlements(pubsub: PubSub): OrderSettlements {
  const waiting = new Map<string, (status: string) => void>();
  const early = new Map<string, string>();
  const notifications = pubsub.subscribe<OrderStatusNotification>(ORDER_STATUS_CHANNEL);
  const listening = (async () => {
    for await (const n of notifications) {
      if (n.order.status === 'PENDING') continue;
      const resolve = waiting.get(n.order._id);
      if (resolve) resolve(n.order.status);
      else early.set(n.order._id, n.order.status);
    }
  })();
  return {
    settled: (orderId) =>
      new Promise<string>((resolve) => {
        const already = early.get(orderId);
        early.delete(orderId);
        if (already) return resolve(already);
        waiting.set(orderId, (status) => {
          waiting.delete(orderId);
          resolve(status);
        });
      }),
    stop: async () => {
      await notifications.return?.();
      await listening;
    },
  };
}
