import { useMemo, useRef, useState } from 'preact/hooks';
import { useMutation, useQuery, useSubscription } from '@urql/preact';
import { CancelOrderDocument, OrderPageDocument, OrderStatusChangedDocument, PayOrderDocument, type OrderFieldsFragment } from '../__generated__/graphql.js';
import { FormErrors, type UserErrors } from '../components/Field.js';
import { formatDate, formatMoney, newKey } from '../format.js';
import { useCatchUp } from '../hooks.js';
import { href } from '../router.js';

const TEST_CARDS = [
  { token: 'tok_visa', label: 'Test Visa card: payment succeeds' },
  { token: 'tok_declined', label: 'Test declined card: payment is refused' },
  { token: 'tok_flaky', label: 'Test flaky card: fails transiently, then pays' },
];
const PAYABLE = new Set(['CONFIRMED']);
const CANCELLABLE = new Set(['PENDING', 'CONFIRMED', 'PAID']);

/** One order; its status follows `orderStatusChanged` live (PENDING → CONFIRMED → PAID → SHIPPED …). */
export function OrderPage({ id }: { id: string }) {
  const [result, refetch] = useQuery({ query: OrderPageDocument, variables: { id } });
  useCatchUp(refetch);
  const [live] = useSubscription({ query: OrderStatusChangedDocument, variables: useMemo(() => ({ orderId: id }), [id]) }, (_prev, event) => event);
  const [acted, setActed] = useState<OrderFieldsFragment>();
  const candidates = [result.data?.order, live.data?.orderStatusChanged, acted].filter((o): o is OrderFieldsFragment => !!o);
  // The latest of what the query, the subscription and the last mutation said.
  const order = candidates.reduce<OrderFieldsFragment | undefined>((a, b) => (!a || b.updatedAt >= a.updatedAt ? b : a), undefined);
  if (!order) return <h1>{result.fetching ? 'Loading…' : 'Order not found'}</h1>;
  return (
    <>
      <h1>Order {order.id.slice(0, 8)}</h1>
      <p class="order-status" role="status" aria-live="polite">
        Status: <strong class={`status ${order.status.toLowerCase()}`}>{order.status}</strong>
        {order.statusReason && <span> ({order.statusReason})</span>}
      </p>
      <p>Placed {formatDate(order.createdAt)}</p>
      <table>
        <caption class="visually-hidden">Items</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Quantity</th>
            <th scope="col">Unit price</th>
            <th scope="col">Line total</th>
          </tr>
        </thead>
        <tbody>
          {order.items.map((item) => (
            <tr key={item.product.id}>
              <th scope="row">
                <a href={href('product', item.product.id)}>{item.product.name}</a>
              </th>
              <td>{item.quantity}</td>
              <td>{item.unitPrice ? formatMoney(item.unitPrice) : 'reserving…'}</td>
              <td>{item.lineTotal ? formatMoney(item.lineTotal) : '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="total">Total: {order.total ? formatMoney(order.total) : 'known once every item is reserved'}</p>
      {PAYABLE.has(order.status) && <PayForm id={order.id} onDone={setActed} />}
      {CANCELLABLE.has(order.status) && <CancelButton id={order.id} onDone={setActed} />}
    </>
  );
}

function PayForm({ id, onDone }: { id: string; onDone: (order: OrderFieldsFragment) => void }) {
  const [token, setToken] = useState('tok_visa');
  const [errors, setErrors] = useState<UserErrors>([]);
  const [state, pay] = useMutation(PayOrderDocument);
  const attempt = useRef(newKey());
  const submit = async (e: Event) => {
    e.preventDefault();
    const result = await pay({ id, payment: { token, idempotencyKey: attempt.current } });
    const payload = result.data?.payOrder;
    if (!payload) return;
    setErrors(payload.userErrors);
    attempt.current = newKey();
    if (payload.order) onDone(payload.order);
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-labelledby="pay-heading">
      <h2 id="pay-heading">Pay</h2>
      <p>This demo uses a simulated payment provider: choose one of its test cards. No real card is charged.</p>
      <FormErrors errors={errors} fields={[]} />
      <fieldset>
        <legend>Test card</legend>
        {TEST_CARDS.map((card) => (
          <label key={card.token}>
            <input type="radio" name="card" value={card.token} checked={token === card.token} onChange={() => setToken(card.token)} /> {card.label} (<code>{card.token}</code>)
          </label>
        ))}
      </fieldset>
      <button type="submit" class="primary" disabled={state.fetching}>
        Pay now
      </button>
    </form>
  );
}

function CancelButton({ id, onDone }: { id: string; onDone: (order: OrderFieldsFragment) => void }) {
  const [errors, setErrors] = useState<UserErrors>([]);
  const [state, cancel] = useMutation(CancelOrderDocument);
  const submit = async () => {
    const payload = (await cancel({ id })).data?.cancelOrder;
    if (!payload) return;
    setErrors(payload.userErrors);
    if (payload.order) onDone(payload.order);
  };
  return (
    <div class="cancel">
      <FormErrors errors={errors} fields={[]} />
      <button type="button" disabled={state.fetching} onClick={() => void submit()}>
        Cancel order
      </button>
    </div>
  );
}
