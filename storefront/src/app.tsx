import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { Provider } from '@urql/preact';
import type { CombinedError } from '@urql/core';
import { connect, errorCode, errorMessage } from './client.js';
import { loadSession, saveSession, type Session } from './session.js';
import { navigate, useRoute, type Route } from './router.js';
import { Banners, type Problem } from './components/Banners.js';
import { Nav } from './components/Nav.js';
import { Catalog } from './pages/Catalog.js';
import { ProductPage } from './pages/Product.js';
import { SignIn } from './pages/SignIn.js';
import { Register } from './pages/Register.js';
import { Cart } from './pages/Cart.js';
import { Orders } from './pages/Orders.js';
import { OrderPage } from './pages/Order.js';
import { Sell } from './pages/Sell.js';
import { ProductEditor } from './pages/ProductEditor.js';
import { Unsubscribe } from './pages/Unsubscribe.js';
import { Notifications } from './pages/Notifications.js';

export interface AppState {
  session: Session | undefined;
  signIn: (session: Session) => void;
  signOut: (message?: string) => void;
  /** Why the user was sent to sign in (an expired or refused token). */
  signInMessage: string | undefined;
  /** Counts reconnections: pages refetch what may have changed while the connection was down. */
  epoch: number;
  offline: boolean;
}

const AppContext = createContext<AppState | undefined>(undefined);

export function useApp(): AppState {
  return useContext(AppContext)!;
}

export function App() {
  const [session, setSession] = useState(loadSession);
  const [signInMessage, setSignInMessage] = useState<string>();
  const [problem, setProblem] = useState<Problem>();
  const [offline, setOffline] = useState(false);
  const [epoch, setEpoch] = useState(0);
  const signOut = useCallback((message?: string) => {
    saveSession(undefined);
    setSession(undefined);
    setSignInMessage(message);
    if (message) navigate('/signin');
  }, []);
  const connection = useMemo(
    () =>
      connect(session?.token, {
        error: (error: CombinedError) => setProblem({ code: errorCode(error), message: errorMessage(error) }),
        unauthenticated: () => signOut('Your session has expired or was refused. Please sign in again.'),
        offline: (down) => {
          setOffline(down);
          if (!down) setEpoch((e) => e + 1);
        },
      }),
    [session?.token, signOut],
  );
  useEffect(() => () => connection.close(), [connection]);
  const route = useRoute();
  useEffect(() => {
    setProblem(undefined);
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [route]);
  const state: AppState = {
    session,
    signIn: (s) => {
      saveSession(s);
      setSession(s);
      setSignInMessage(undefined);
    },
    signOut,
    signInMessage,
    epoch,
    offline,
  };
  return (
    <AppContext.Provider value={state}>
      <Provider value={connection.client}>
        <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
          Skip to content
        </a>
        <Nav />
        <Banners offline={offline} problem={problem} dismiss={() => setProblem(undefined)} />
        <main id="main" tabIndex={-1}>
          <Page route={route} />
        </main>
      </Provider>
    </AppContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'catalog':
      return <Catalog />;
    case 'product':
      return <ProductPage id={route.id} />;
    case 'signin':
      return <SignIn />;
    case 'register':
      return <Register />;
    case 'cart':
      return <Cart />;
    case 'orders':
      return <Orders />;
    case 'order':
      return <OrderPage id={route.id} />;
    case 'notifications':
      return <Notifications />;
    case 'sell':
      return <Sell />;
    case 'new-product':
      return <ProductEditor />;
    case 'edit-product':
      return <ProductEditor id={route.id} />;
    case 'unsubscribe':
      return <Unsubscribe token={route.token} />;
    case 'not-found':
      return (
        <>
          <h1>Page not found</h1>
          <p>
            <a href="#/">Back to the catalog</a>
          </p>
        </>
      );
  }
}
