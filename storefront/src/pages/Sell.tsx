import { useMemo, useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { DiscontinueProductDocument, MyProductsDocument, RestockProductDocument, type ProductDetailsFragment } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { FormErrors, type UserErrors } from '../components/Field.js';
import { SellerAnalytics } from '../components/SellerAnalytics.js';
import { StockBadge } from '../components/StockBadge.js';
import { formatMoney } from '../format.js';
import { useCatchUp, useLiveStock } from '../hooks.js';
import { href } from '../router.js';

/** A seller's products: restock, discontinue, edit (ProductEditor), create. */
export function Sell() {
  const { session } = useApp();
  const [result, refetch] = useQuery({ query: MyProductsDocument, variables: { first: 100 }, pause: session?.user.role !== 'SELLER' });
  useCatchUp(refetch);
  const products = result.data?.me?.products.edges.map((e) => e.node);
  const ids = useMemo(() => products?.map((p) => p.id) ?? [], [products]);
  // A sale or a refund of one of these products: the analytics figures are fetched again.
  const [salesChanged, setSalesChanged] = useState(0);
  const live = useLiveStock(ids, (reason) => (reason === 'SOLD' || reason === 'RELEASED') && setSalesChanged((n) => n + 1));
  if (session?.user.role !== 'SELLER') {
    return (
      <>
        <h1>My products</h1>
        <p>
          <a href="#/signin">Sign in</a> with a seller account to sell.
        </p>
      </>
    );
  }
  return (
    <>
      <h1>My products</h1>
      <p>
        <a class="button" href="#/sell/new">
          Create a product
        </a>
      </p>
      {!products ? (
        <p>{result.fetching ? 'Loading…' : ''}</p>
      ) : products.length === 0 ? (
        <p>You have no products yet.</p>
      ) : (
        <>
          <SellerAnalytics salesChanged={salesChanged} />
          <ul class="seller-products" aria-label="Your products">
            {products.map((p) => (
              <SellerProduct key={p.id} product={p} stock={live.get(p.id) ?? p.stock} />
            ))}
          </ul>
        </>
      )}
    </>
  );
}

function SellerProduct({ product, stock }: { product: ProductDetailsFragment; stock: number }) {
  const [quantity, setQuantity] = useState('10');
  const [errors, setErrors] = useState<UserErrors>([]);
  const [restockState, restock] = useMutation(RestockProductDocument);
  const [discontinueState, discontinue] = useMutation(DiscontinueProductDocument);
  const active = product.status === 'ACTIVE';
  const qtyId = `restock-${product.id}`;
  return (
    <li class="card" data-product-id={product.id}>
      <h2>
        <a href={href('product', product.id)}>{product.name}</a>
      </h2>
      <p>
        {formatMoney(product.price)} · {product.category} · SKU {product.sku}
      </p>
      <StockBadge stock={stock} discontinued={!active} />
      <FormErrors errors={errors} fields={[]} />
      {active && (
        <>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void restock({ id: product.id, quantity: Number(quantity) }).then((r) => r.data && setErrors(r.data.restockProduct.userErrors));
            }}
          >
            <div class="field">
              <label for={qtyId}>Units to add to {product.name}</label>
              <input id={qtyId} type="number" min={1} value={quantity} onInput={(e) => setQuantity(e.currentTarget.value)} />
            </div>
            <button type="submit" disabled={restockState.fetching}>
              Restock
            </button>
          </form>
          <p class="actions">
            <a class="button" href={href('sell', product.id)}>
              Edit <span class="visually-hidden">{product.name}</span>
            </a>{' '}
            <button
              type="button"
              disabled={discontinueState.fetching}
              onClick={() => {
                if (confirm(`Discontinue ${product.name}? It can no longer be ordered.`)) void discontinue({ id: product.id }).then((r) => r.data && setErrors(r.data.discontinueProduct.userErrors));
              }}
            >
              Discontinue <span class="visually-hidden">{product.name}</span>
            </button>
          </p>
        </>
      )}
    </li>
  );
}
