import { useEffect, useRef, useState } from 'preact/hooks';
import { useMutation } from '@urql/preact';
import { PlaceOrderDocument } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { useCart, writeCart } from '../cart.js';
import { FormErrors, isFor, type UserErrors } from '../components/Field.js';
import { formatMoney, newKey } from '../format.js';
import { href, navigate } from '../router.js';

/** The cart (localStorage) and checkout: one idempotency key per checkout, so a double click places one order. */
export function Cart() {
  const { session } = useApp();
  const lines = useCart();
  const [errors, setErrors] = useState<UserErrors>([]);
  const [checkoutKey, setCheckoutKey] = useState(newKey);
  const [state, placeOrder] = useMutation(PlaceOrderDocument);
  const busy = useRef(false);
  // A new checkout when the cart changes; the same one (same key) for a retry or a second click.
  const cartKey = JSON.stringify(lines.map((l) => [l.productId, l.quantity]));
  const firstCart = useRef(cartKey);
  useEffect(() => {
    if (cartKey !== firstCart.current) setCheckoutKey(newKey());
  }, [cartKey]);
  const totals = new Map<string, number>();
  for (const l of lines) totals.set(l.price.currency, (totals.get(l.price.currency) ?? 0) + l.price.amount * l.quantity);
  const setQuantity = (productId: string, quantity: number) => writeCart(lines.map((l) => (l.productId === productId ? { ...l, quantity } : l)).filter((l) => l.quantity > 0));
  const checkout = async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const result = await placeOrder({ input: { items: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })), idempotencyKey: checkoutKey } });
      const payload = result.data?.placeOrder;
      if (!payload) return;
      setErrors(payload.userErrors);
      if (payload.order) {
        writeCart([]);
        setCheckoutKey(newKey());
        navigate(`/order/${encodeURIComponent(payload.order.id)}`);
      }
    } finally {
      busy.current = false;
    }
  };
  if (lines.length === 0) {
    return (
      <>
        <h1>Cart</h1>
        <p>
          Your cart is empty. <a href="#/">Browse the catalog</a>
        </p>
      </>
    );
  }
  return (
    <>
      <h1>Cart</h1>
      <FormErrors errors={errors} fields={lines.map((_, i) => `items.${i}`)} />
      <table class="cart">
        <caption class="visually-hidden">Items in your cart</caption>
        <thead>
          <tr>
            <th scope="col">Product</th>
            <th scope="col">Unit price</th>
            <th scope="col">Quantity</th>
            <th scope="col">Line total</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {lines.map((l, i) => {
            const lineErrors = errors.filter((e) => isFor(e, `items.${i}`) || (e.field ?? []).slice(0, 3).join('.') === `input.items.${i}`);
            return (
              <tr key={l.productId}>
                <th scope="row">
                  <a href={href('product', l.productId)}>{l.name}</a>
                  {lineErrors.length > 0 && (
                    <p class="field-error" id={`line-${i}-err`} role="alert">
                      {lineErrors.map((e) => `${e.message} (${e.code})`).join(' ')}
                    </p>
                  )}
                </th>
                <td>{formatMoney(l.price)}</td>
                <td>
                  <label class="visually-hidden" for={`qty-${i}`}>
                    Quantity of {l.name}
                  </label>
                  <input id={`qty-${i}`} type="number" min={1} value={l.quantity} aria-invalid={lineErrors.length > 0} {...(lineErrors.length > 0 && { 'aria-describedby': `line-${i}-err` })} onChange={(e) => setQuantity(l.productId, Math.max(1, Number(e.currentTarget.value) || 1))} />
                </td>
                <td>{formatMoney({ amount: l.price.amount * l.quantity, currency: l.price.currency })}</td>
                <td>
                  <button type="button" onClick={() => setQuantity(l.productId, 0)}>
                    Remove <span class="visually-hidden">{l.name}</span>
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <p class="total">
        Total: {[...totals].map(([currency, amount]) => formatMoney({ amount, currency })).join(' + ')}
      </p>
      {session?.user.role === 'CUSTOMER' ? (
        <button type="button" class="primary" disabled={state.fetching} onClick={() => void checkout()}>
          Place order
        </button>
      ) : session ? (
        <p>Only customer accounts can place orders.</p>
      ) : (
        <p>
          <a href="#/signin">Sign in</a> or <a href="#/register">register</a> to place your order.
        </p>
      )}
    </>
  );
}
