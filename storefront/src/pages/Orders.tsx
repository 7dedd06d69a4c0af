import { useQuery } from '@urql/preact';
import { MyOrdersDocument } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { formatDate, formatMoney } from '../format.js';
import { useCatchUp } from '../hooks.js';
import { href } from '../router.js';
import { Pager, useCursorPages } from '../components/Pager.js';

export function Orders() {
  const { session } = useApp();
  const pages = useCursorPages();
  const [result, refetch] = useQuery({ query: MyOrdersDocument, variables: { first: 20, after: pages.after }, pause: !session, requestPolicy: 'cache-and-network' });
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
      <Pager pages={pages} pageInfo={orders?.pageInfo} />
    </>
  );
}
