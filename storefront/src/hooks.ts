import { useEffect, useRef, useState } from 'preact/hooks';
import { useClient, useQuery, useSubscription } from '@urql/preact';
import type { OperationContext } from '@urql/core';
import { NotificationReceivedDocument, StockChangedDocument, UnreadNotificationsDocument } from './__generated__/graphql.js';
import { useApp } from './app.js';
import type { UserErrors } from './components/Field.js';
import { navigate } from './router.js';
import type { Session } from './session.js';

/** Calls `refetch` after the connection came back (the page catches up on what it missed). */
export function useCatchUp(refetch: (opts?: Partial<OperationContext>) => void): void {
  const { epoch } = useApp();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    refetch({ requestPolicy: 'network-only' });
  }, [epoch]);
}

/**
 * Live stock of the given products (all when null) from `stockChanged`: a map of product id to
 * its latest stock, emptied when the connection comes back (the page refetches). `onChange` is told
 * of products created or discontinued (a list may have to be refetched).
 */
export function useLiveStock(productIds: readonly string[] | null, onChange?: (reason: string, productId: string) => void): ReadonlyMap<string, number> {
  const client = useClient();
  const { epoch } = useApp();
  const [stock, setStock] = useState<ReadonlyMap<string, number>>(new Map());
  const changed = useRef(onChange);
  changed.current = onChange;
  const key = productIds ? productIds.join(',') : '*';
  useEffect(() => setStock(new Map()), [epoch]);
  useEffect(() => {
    if (productIds && productIds.length === 0) return undefined;
    const subscription = client.subscription(StockChangedDocument, { productIds: productIds ? [...productIds] : null }).subscribe((result) => {
      const event = result.data?.stockChanged;
      if (!event) return;
      setStock((m) => new Map(m).set(event.product.id, event.stock));
      changed.current?.(event.reason, event.product.id);
    });
    return () => subscription.unsubscribe();
  }, [client, key]);
  return stock;
}

/** Runs `fn` once after `ms` of quiet (search-as-you-type). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/** What `login` and `register` answer: field errors, or a token and the user. */
interface SessionPayload {
  userErrors: UserErrors;
  token?: string | null;
  user?: Session['user'] | null;
}

/**
 * The end of signing in and of registering: shows the payload's field errors, or starts the
 * session and sends the user to their home page (a seller's products, else the catalog).
 */
export function useSessionStart(): { errors: UserErrors; start: (payload: SessionPayload | null | undefined) => void } {
  const { signIn } = useApp();
  const [errors, setErrors] = useState<UserErrors>([]);
  const start = (payload: SessionPayload | null | undefined) => {
    if (!payload) return;
    setErrors(payload.userErrors);
    if (payload.token && payload.user) {
      signIn({ token: payload.token, user: payload.user });
      navigate(payload.user.role === 'SELLER' ? '/sell' : '/');
    }
  };
  return { errors, start };
}

/** Told when the user marked notifications read (the navigation's unread count refetches). */
export const notificationsChanged = new EventTarget();

/**
 * The signed-in user's unread notifications, counted again whenever one arrives
 * (`notificationReceived`), notifications are marked read, or the connection comes back.
 */
export function useUnreadNotifications(signedIn: boolean): number | undefined {
  const [result, refetch] = useQuery({ query: UnreadNotificationsDocument, pause: !signedIn, requestPolicy: 'cache-and-network' });
  useCatchUp(refetch);
  useRefetchOnNotification(signedIn, refetch);
  useEffect(() => {
    const changed = () => refetch({ requestPolicy: 'network-only' });
    notificationsChanged.addEventListener('changed', changed);
    return () => notificationsChanged.removeEventListener('changed', changed);
  }, [refetch]);
  return signedIn ? result.data?.me?.notifications.unreadCount : undefined;
}

/** Refetches (from the network) whenever a new notification reaches the signed-in user (`notificationReceived`). */
export function useRefetchOnNotification(signedIn: boolean, refetch: (opts?: Partial<OperationContext>) => void): void {
  useSubscription({ query: NotificationReceivedDocument, pause: !signedIn }, () => {
    refetch({ requestPolicy: 'network-only' });
    return undefined;
  });
}
