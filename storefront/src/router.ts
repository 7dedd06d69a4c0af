import { useEffect, useState } from 'preact/hooks';

/** Hash routes (#/product/<id>): the gateway serves index.html at `/` and nothing else is needed. */
export type Route =
  | { page: 'catalog' }
  | { page: 'product'; id: string }
  | { page: 'signin' }
  | { page: 'register' }
  | { page: 'cart' }
  | { page: 'orders' }
  | { page: 'notifications' }
  | { page: 'order'; id: string }
  | { page: 'sell' }
  | { page: 'new-product' }
  | { page: 'edit-product'; id: string }
  | { page: 'unsubscribe'; token: string }
  | { page: 'not-found' };

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?', 2);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  if (!first) return { page: 'catalog' };
  // The link of a notification e-mail: #/unsubscribe?token=<signed token>.
  if (first === 'unsubscribe' && parts.length === 1) return { page: 'unsubscribe', token: new URLSearchParams(query).get('token') ?? '' };
  if (first === 'product' && second) return { page: 'product', id: second };
  if (first === 'order' && second) return { page: 'order', id: second };
  if (first === 'sell' && second === 'new') return { page: 'new-product' };
  if (first === 'sell' && second) return { page: 'edit-product', id: second };
  if (parts.length === 1 && ['signin', 'register', 'cart', 'orders', 'notifications', 'sell'].includes(first)) return { page: first } as Route;
  return { page: 'not-found' };
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}

export function navigate(to: string): void {
  location.hash = to.replace(/^#/, '');
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}
