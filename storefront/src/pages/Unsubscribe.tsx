import { useMutation } from '@urql/preact';
import { useEffect } from 'preact/hooks';
import { UnsubscribeDocument } from '../__generated__/graphql.js';

const KIND_NAMES: Record<string, string> = {
  ORDER_CONFIRMED: 'order confirmations',
  ORDER_REJECTED: 'rejected orders',
  ORDER_PAID: 'payment receipts',
  PAYMENT_FAILED: 'failed payments',
  ORDER_CANCELLED: 'cancellations',
  ORDER_SHIPPED: 'shipments',
  UNIT_SOLD: 'units sold',
  STOCK_LOW: 'low stock alerts',
  SOLD_OUT: 'sold-out alerts',
};

/** Where the unsubscribe link of a notification e-mail leads: turns those e-mails off at once, signed in or not. */
export function Unsubscribe({ token }: { token: string }) {
  const [state, unsubscribe] = useMutation(UnsubscribeDocument);
  useEffect(() => {
    if (token) void unsubscribe({ token });
  }, [token]);
  const done = state.data?.unsubscribe;
  return (
    <>
      <h1>E-mail notifications</h1>
      {!token || state.error ? (
        <p>This unsubscribe link is not valid. Sign in to choose your notifications.</p>
      ) : done ? (
        <p>You will no longer receive e-mails about {KIND_NAMES[done.kind] ?? done.kind}. You still see them in the app.</p>
      ) : (
        <p>Unsubscribing…</p>
      )}
      <p>
        <a href="#/">Back to the catalog</a>
      </p>
    </>
  );
}
