import { useLayoutEffect, useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { CreateProductDocument, ProductPageDocument, UpdateProductDocument, type ProductDetailsFragment } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { Field, FormErrors, type UserErrors } from '../components/Field.js';
import { fromMinorUnits, toMinorUnits } from '../format.js';
import { navigate } from '../router.js';

const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY'];
const FIELDS = ['sku', 'name', 'description', 'category', 'price', 'price.amount', 'price.currency', 'initialStock'];

interface Draft {
  sku: string;
  name: string;
  description: string;
  category: string;
  price: string;
  currency: string;
  initialStock: string;
}

const EMPTY: Draft = { sku: '', name: '', description: '', category: '', price: '', currency: 'EUR', initialStock: '10' };

function draftOf(p: ProductDetailsFragment): Draft {
  return { sku: p.sku, name: p.name, description: p.description ?? '', category: p.category, price: fromMinorUnits(p.price.amount, p.price.currency), currency: p.price.currency, initialStock: '' };
}

/** Creates a product, or edits one with expectedVersion: a concurrent change is shown as a conflict. */
export function ProductEditor({ id }: { id?: string }) {
  const { session } = useApp();
  const [loaded, reload] = useQuery({ query: ProductPageDocument, variables: { id: id ?? '' }, pause: !id, requestPolicy: 'network-only' });
  const original = loaded.data?.product ?? undefined;
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [version, setVersion] = useState<number>();
  const [errors, setErrors] = useState<UserErrors>([]);
  const [saved, setSaved] = useState('');
  const [createState, create] = useMutation(CreateProductDocument);
  const [updateState, update] = useMutation(UpdateProductDocument);
  // Before the form is painted: typing into a field the loaded product is about to fill must not be overwritten.
  useLayoutEffect(() => {
    if (original && original.version !== version) {
      setDraft(draftOf(original));
      setVersion(original.version);
    }
  }, [original]);
  if (session?.user.role !== 'SELLER') {
    return (
      <>
        <h1>{id ? 'Edit product' : 'Create a product'}</h1>
        <p>
          <a href="#/signin">Sign in</a> with a seller account first.
        </p>
      </>
    );
  }
  if (id && !original) return <h1>{loaded.fetching ? 'Loading…' : 'Product not found'}</h1>;
  const set = (key: keyof Draft) => (e: { currentTarget: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.currentTarget.value }));
  const conflict = errors.some((e) => e.code === 'VERSION_CONFLICT');
  const submit = async (e: Event) => {
    e.preventDefault();
    setSaved('');
    const amount = toMinorUnits(draft.price, draft.currency);
    if (amount === undefined) {
      setErrors([{ code: 'INVALID_INPUT', message: `Enter a price such as 12.50 in ${draft.currency}.`, field: ['input', 'price', 'amount'] }]);
      return;
    }
    const price = { amount, currency: draft.currency };
    if (!id) {
      const payload = (await create({ input: { sku: draft.sku, name: draft.name, description: draft.description || null, category: draft.category, price, initialStock: Number(draft.initialStock) } })).data?.createProduct;
      if (!payload) return;
      setErrors(payload.userErrors);
      if (payload.product) navigate('/sell');
      return;
    }
    const payload = (await update({ id, input: { name: draft.name, description: draft.description || null, category: draft.category, price }, expectedVersion: version ?? null })).data?.updateProduct;
    if (!payload) return;
    setErrors(payload.userErrors);
    if (payload.product) {
      setVersion(payload.product.version);
      setSaved('Saved.');
    }
  };
  return (
    <>
      <h1>{id ? `Edit ${original?.name ?? 'product'}` : 'Create a product'}</h1>
      {conflict && (
        <div class="banner warning" role="alert">
          <p>Someone changed this product since you opened it, so your changes were not saved. Load the latest version, then make your changes again.</p>
          <button type="button" onClick={() => (setErrors([]), setVersion(undefined), reload({ requestPolicy: 'network-only' }))}>
            Load the latest version
          </button>
        </div>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <FormErrors errors={errors.filter((e) => e.code !== 'VERSION_CONFLICT')} fields={FIELDS} />
        {!id && (
          <Field label="SKU" name="sku" errors={errors}>
            {(a) => <input {...a} required value={draft.sku} onInput={set('sku')} />}
          </Field>
        )}
        <Field label="Name" name="name" errors={errors}>
          {(a) => <input {...a} required value={draft.name} onInput={set('name')} />}
        </Field>
        <Field label="Description" name="description" errors={errors}>
          {(a) => <textarea {...a} rows={3} value={draft.description} onInput={set('description')} />}
        </Field>
        <Field label="Category" name="category" errors={errors}>
          {(a) => <input {...a} required value={draft.category} onInput={set('category')} />}
        </Field>
        <Field label="Price" name="price.amount" errors={errors} hint="For example 12.50">
          {(a) => <input {...a} inputMode="decimal" required value={draft.price} onInput={set('price')} />}
        </Field>
        <Field label="Currency" name="price.currency" errors={errors}>
          {(a) => (
            <select {...a} value={draft.currency} onChange={set('currency')}>
              {CURRENCIES.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          )}
        </Field>
        {!id && (
          <Field label="Initial stock" name="initialStock" errors={errors}>
            {(a) => <input {...a} type="number" min={0} required value={draft.initialStock} onInput={set('initialStock')} />}
          </Field>
        )}
        <button type="submit" class="primary" disabled={createState.fetching || updateState.fetching}>
          {id ? 'Save changes' : 'Create product'}
        </button>
        <p role="status">{saved}</p>
      </form>
      <p>
        <a href="#/sell">Back to my products</a>
      </p>
    </>
  );
}
