import { useEffect, useMemo, useState } from 'preact/hooks';
import { useClient, useQuery } from '@urql/preact';
import { ProductPageDocument, ProductRecommendationsDocument, RecordProductViewDocument } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { QUIET } from '../client.js';
import { addToCart } from '../cart.js';
import { ProductCard } from '../components/ProductCard.js';
import { StockBadge } from '../components/StockBadge.js';
import { formatMoney } from '../format.js';
import { useCatchUp, useLiveStock } from '../hooks.js';

export function ProductPage({ id }: { id: string }) {
  const [result, refetch] = useQuery({ query: ProductPageDocument, variables: { id } });
  useCatchUp(refetch);
  const ids = useMemo(() => [id], [id]);
  // Discontinued elsewhere: fetch the product again for its status.
  const live = useLiveStock(ids, (reason) => reason === 'DISCONTINUED' && refetch({ requestPolicy: 'network-only' }));
  // A signed-in view feeds the recommendations ("for you"); its failure changes nothing here.
  const client = useClient();
  const { session } = useApp();
  useEffect(() => {
    if (session) void client.mutation(RecordProductViewDocument, { productId: id }, QUIET).toPromise();
  }, [client, id, session]);
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState('');
  const product = result.data?.product;
  if (!product) return <h1>{result.fetching ? 'Loading…' : 'Product not found'}</h1>;
  const stock = live.get(id) ?? product.stock;
  const buyable = product.status === 'ACTIVE' && stock > 0;
  return (
    <>
      <article class="product" data-product-id={product.id}>
        <h1>{product.name}</h1>
        <p class="price">{formatMoney(product.price)}</p>
        <StockBadge stock={stock} discontinued={product.status === 'DISCONTINUED'} />
        <p>{product.description ?? 'No description.'}</p>
        <dl>
          <dt>Category</dt>
          <dd>{product.category}</dd>
          <dt>Sold by</dt>
          <dd>{product.seller.name}</dd>
          <dt>SKU</dt>
          <dd>{product.sku}</dd>
        </dl>
        {buyable && (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              addToCart({ productId: product.id, name: product.name, price: product.price, quantity });
              setAdded(`Added ${quantity} × ${product.name} to the cart.`);
            }}
          >
            <div class="field">
              <label for="quantity">Quantity</label>
              <input id="quantity" type="number" min={1} max={stock} value={quantity} onInput={(e) => setQuantity(Math.max(1, Number(e.currentTarget.value) || 1))} />
            </div>
            <button type="submit">Add to cart</button>
          </form>
        )}
        <p role="status">
          {added && (
            <>
              {added} <a href="#/cart">Go to the cart</a>
            </>
          )}
        </p>
      </article>
      <Recommendations id={id} />
    </>
  );
}

/** "Bought together": absent (not broken) when the recommendation subgraph does not answer. */
function Recommendations({ id }: { id: string }) {
  const [result] = useQuery({ query: ProductRecommendationsDocument, variables: { id }, context: useMemo(() => QUIET, []) });
  const products = result.error ? [] : (result.data?.product?.recommendations ?? []);
  if (products.length === 0) return null;
  return (
    <section aria-labelledby="recs">
      <h2 id="recs">Bought together</h2>
      <ul class="products">
        {products.map((p) => (
          <ProductCard key={p.id} product={p} stock={p.stock} level={3} />
        ))}
      </ul>
    </section>
  );
}
