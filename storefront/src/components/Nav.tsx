import { useApp } from '../app.js';
import { useCart } from '../cart.js';
import { useUnreadNotifications } from '../hooks.js';

export function Nav() {
  const { session, signOut } = useApp();
  const cart = useCart();
  const count = cart.reduce((n, l) => n + l.quantity, 0);
  const unread = useUnreadNotifications(!!session);
  return (
    <header class="site">
      <a class="brand" href="#/">
        Storefront
      </a>
      <nav aria-label="Main">
        <ul>
          <li>
            <a href="#/">Catalog</a>
          </li>
          <li>
            <a href="#/cart">Cart ({count})</a>
          </li>
          {session?.user.role === 'CUSTOMER' && (
            <li>
              <a href="#/orders">My orders</a>
            </li>
          )}
          {session?.user.role === 'SELLER' && (
            <li>
              <a href="#/sell">My products</a>
            </li>
          )}
          {session && (
            <li>
              <a href="#/notifications">Notifications{unread ? ` (${unread} unread)` : ''}</a>
            </li>
          )}
          {session ? (
            <li>
              <span class="who">Signed in as {session.user.name}</span>{' '}
              <button type="button" class="link" onClick={() => signOut()}>
                Sign out
              </button>
            </li>
          ) : (
            <>
              <li>
                <a href="#/signin">Sign in</a>
              </li>
              <li>
                <a href="#/register">Register</a>
              </li>
            </>
          )}
        </ul>
      </nav>
    </header>
  );
}
