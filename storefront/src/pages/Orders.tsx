import { useState } from 'preact/hooks';
import { useQuery } from '@urql/preact';
import { MyOrdersDocument } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { formatDate, formatMoney } from '../format.js';
import { useCatchUp } from '../hooks.js';
import { href } from '../router.js';

export function Orders() {
  const { session } = useApp();
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [result, refetch] = useQuery({ query: MyOrdersDocument, variables: { first: 20, after: cursors[cursors.length - 1] ?? null }, pause: !session, requestPolicy: 'cache-and-network' });
  useCatchUp(refetch);
  if (!session) {
    return (
      <>
        <h1>My orders</h1>
        <p>
          <a href="#/signin">Sign in</a> to see your orders.
        </p>
      </>
    );
  }
  const orders = result.data?.me?.orders;
  return (
    <>
      <h1>My orders</h1>
      {!orders ? (
        <p>{result.fetching ? 'Loading…' : 'No orders.'}</p>
      ) : orders.edges.length === 0 ? (
        <p>
          No orders yet. <a href="#/">Browse the catalog</a>
        </p>
      ) : (
        <ul class="orders">
          {orders.edges.map(({ node }) => (
            <li key={node.id}>
              <a href={href('order', node.id)}>Order {node.id.slice(0, 8)}</a> · {formatDate(node.createdAt)} · {node.items.map((i) => `${i.quantity} × ${i.product.name}`).join(', ')} · {node.total ? formatMoney(node.total) : ''} · <strong>{node.status}</strong>
            </li>
          ))}
        </ul>
      )}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!orders?.pageInfo.hasNextPage} onClick={() => orders?.pageInfo.endCursor && setCursors((c) => [...c, orders.pageInfo.endCursor])}>
          Next page
        </button>
      </nav>
    </>
  );
}
