import type { ProductCardFragment } from '../__generated__/graphql.js';
import { formatMoney } from '../format.js';
import { href } from '../router.js';
import { StockBadge } from './StockBadge.js';

export function ProductCard({ product, stock, level = 2 }: { product: ProductCardFragment; stock: number; level?: 2 | 3 }) {
  const Heading = level === 2 ? 'h2' : 'h3';
  return (
    <li class="card" data-product-id={product.id}>
      <Heading>
        <a href={href('product', product.id)}>{product.name}</a>
      </Heading>
      <p class="category">{product.category}</p>
      <p class="price">{formatMoney(product.price)}</p>
      <StockBadge stock={stock} discontinued={product.status === 'DISCONTINUED'} />
    </li>
  );
}
