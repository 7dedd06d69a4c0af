import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useQuery } from '@urql/preact';
import { CatalogDocument, type ProductSort } from '../__generated__/graphql.js';
import { Pager, useCursorPages } from '../components/Pager.js';
import { ProductCard } from '../components/ProductCard.js';
import { useCatchUp, useDebounced, useLiveStock } from '../hooks.js';

const PAGE_SIZE = 12;
const SORTS: { value: ProductSort; label: string }[] = [
  { value: 'NEWEST', label: 'Newest first' },
  { value: 'PRICE_ASC', label: 'Price, low to high' },
  { value: 'PRICE_DESC', label: 'Price, high to low' },
  { value: 'NAME', label: 'Name' },
];

/** The catalog: search, category filter, sort, cursor pages; stock badges follow `stockChanged` live. */
export function Catalog() {
  const [search, setSearch] = useState('');
  const [category, setCategory] = useState('');
  const [sort, setSort] = useState<ProductSort>('NEWEST');
  const pages = useCursorPages();
  const [categories, setCategories] = useState<string[]>([]);
  const query = useDebounced(search.trim(), 250);
  useEffect(() => pages.reset(), [query, category, sort]);
  const variables = useMemo(
    () => ({ first: PAGE_SIZE, after: pages.after, sort, filter: { ...(query && { search: query }), ...(category && { category }) } }),
    [pages.after, sort, query, category],
  );
  const [result, refetch] = useQuery({ query: CatalogDocument, variables });
  useCatchUp(refetch);
  // A product created or discontinued elsewhere: fetch the page again (the catalog's read model has it by now).
  const pending = useRef<ReturnType<typeof setTimeout>>(undefined);
  const stock = useLiveStock(null, (reason) => {
    if (reason !== 'CREATED' && reason !== 'DISCONTINUED') return;
    clearTimeout(pending.current);
    pending.current = setTimeout(() => refetch({ requestPolicy: 'network-only' }), 100);
  });
  useEffect(() => () => clearTimeout(pending.current), []);
  const products = result.data?.products;
  useEffect(() => {
    if (!products) return;
    setCategories((known) => {
      const all = new Set([...known, ...products.edges.map((e) => e.node.category)]);
      return all.size === known.length ? known : [...all].sort();
    });
  }, [products]);
  return (
    <>
      <h1>Catalog</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="search">Search products</label>
          <input id="search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="category">Category</label>
          <select id="category" value={category} onChange={(e) => setCategory(e.currentTarget.value)}>
            <option value="">All categories</option>
            {[...new Set([...categories, ...(category ? [category] : [])])].map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="sort">Sort by</label>
          <select id="sort" value={sort} onChange={(e) => setSort(e.currentTarget.value as ProductSort)}>
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </div>
      </form>
      <p class="count" role="status">
        {result.fetching && !products ? 'Loading…' : products ? `${products.totalCount} product${products.totalCount === 1 ? '' : 's'} · page ${pages.page}` : ''}
      </p>
      {products && products.edges.length === 0 && <p>No product matches.</p>}
      {products && products.edges.length > 0 && (
        <ul class="products" aria-label="Products">
          {products.edges.map(({ node }) => (
            <ProductCard key={node.id} product={node} stock={stock.get(node.id) ?? node.stock} />
          ))}
        </ul>
      )}
      <Pager pages={pages} pageInfo={products?.pageInfo} />
    </>
  );
}
