import { useState } from 'preact/hooks';
import { useMutation, useQuery } from '@urql/preact';
import { MarkNotificationsReadDocument, NotificationsDocument, SetNotificationPreferenceDocument, type DeliveryChannel, type NotificationKind } from '../__generated__/graphql.js';
import { useApp } from '../app.js';
import { formatDate } from '../format.js';
import { notificationsChanged, useCatchUp, useRefetchOnNotification } from '../hooks.js';
import { href } from '../router.js';
import { Pager, useCursorPages } from '../components/Pager.js';

const KINDS: Record<NotificationKind, string> = {
  ORDER_CONFIRMED: 'Order confirmed',
  ORDER_REJECTED: 'Order rejected',
  ORDER_PAID: 'Order paid',
  PAYMENT_FAILED: 'Payment failed',
  ORDER_CANCELLED: 'Order cancelled',
  ORDER_SHIPPED: 'Order shipped',
  UNIT_SOLD: 'Unit sold',
  STOCK_LOW: 'Stock low',
  SOLD_OUT: 'Sold out',
};
const CHANNELS: { channel: DeliveryChannel; label: string }[] = [
  { channel: 'IN_APP', label: 'In the app' },
  { channel: 'EMAIL', label: 'By e-mail' },
  { channel: 'WEBHOOK', label: 'To my webhooks' },
];
const SELLER_KINDS = new Set<NotificationKind>(['UNIT_SOLD', 'STOCK_LOW', 'SOLD_OUT']);

/**
 * The signed-in user's inbox, newest first: new notifications appear as they arrive
 * (`notificationReceived`), unread ones are marked, "Mark all as read" marks this page's; below,
 * where each kind goes (`setNotificationPreference`).
 */
export function Notifications() {
  const { session } = useApp();
  const pages = useCursorPages();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [result, refetch] = useQuery({ query: NotificationsDocument, variables: { first: 20, after: pages.after, unreadOnly }, pause: !session, requestPolicy: 'cache-and-network' });
  useCatchUp(refetch);
  useRefetchOnNotification(!!session, refetch);
  const [marking, markRead] = useMutation(MarkNotificationsReadDocument);
  if (!session) {
    return (
      <>
        <h1>Notifications</h1>
        <p>
          <a href="#/signin">Sign in</a> to see your notifications.
        </p>
      </>
    );
  }
  const inbox = result.data?.me?.notifications;
  const unread = inbox?.edges.filter((e) => !e.node.read).map((e) => e.node.id) ?? [];
  const markAll = async () => {
    const done = await markRead({ ids: unread });
    if (done.error) return;
    refetch({ requestPolicy: 'network-only' });
    notificationsChanged.dispatchEvent(new Event('changed'));
  };
  return (
    <>
      <h1>Notifications</h1>
      <p role="status" aria-live="polite" class="unread-count">
        {inbox ? (inbox.unreadCount === 0 ? 'Nothing unread.' : `${inbox.unreadCount} unread`) : result.fetching ? 'Loading…' : ''}
      </p>
      <div class="inbox-actions">
        <label>
          <input type="checkbox" checked={unreadOnly} onChange={(e) => (setUnreadOnly((e.target as HTMLInputElement).checked), pages.reset())} /> Unread only
        </label>
        <button type="button" disabled={unread.length === 0 || marking.fetching} onClick={() => void markAll()}>
          Mark all as read
        </button>
      </div>
      {inbox && inbox.edges.length === 0 ? (
        <p>No notifications yet.</p>
      ) : (
        <ul class="notifications">
          {inbox?.edges.map(({ node }) => (
            <li key={node.id} class={node.read ? 'read' : 'unread'}>
              <h2>
                {!node.read && <span class="badge">New</span>} {node.orderId ? <a href={href('order', node.orderId)}>{node.title}</a> : node.productId ? <a href={href('product', node.productId)}>{node.title}</a> : node.title}
              </h2>
              <p>{node.body}</p>
              <p class="when">{formatDate(node.occurredAt)}</p>
            </li>
          ))}
        </ul>
      )}
      <Pager pages={pages} pageInfo={inbox?.pageInfo} />
      {result.data?.me && <Preferences preferences={result.data.me.notificationPreferences} />}
    </>
  );
}

function Preferences({ preferences }: { preferences: readonly { kind: NotificationKind; channels: readonly DeliveryChannel[] }[] }) {
  const [saved, setPreference] = useMutation(SetNotificationPreferenceDocument);
  const [chosen, setChosen] = useState<Partial<Record<NotificationKind, readonly DeliveryChannel[]>>>({});
  const toggle = async (kind: NotificationKind, channels: readonly DeliveryChannel[], channel: DeliveryChannel, on: boolean) => {
    const next = CHANNELS.map((c) => c.channel).filter((c) => (c === channel ? on : channels.includes(c)));
    setChosen((m) => ({ ...m, [kind]: next })); // shown at once; the answer (or a failure) settles it
    const done = await setPreference({ kind, channels: next });
    const answer = done.data?.setNotificationPreference;
    setChosen((m) => ({ ...m, [kind]: answer ? answer.channels : channels }));
  };
  return (
    <section aria-labelledby="preferences-heading">
      <h2 id="preferences-heading">Where notifications go</h2>
      <table class="preferences">
        <caption class="visually-hidden">Channels per kind of notification</caption>
        <thead>
          <tr>
            <th scope="col">Kind</th>
            {CHANNELS.map((c) => (
              <th scope="col" key={c.channel}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {preferences.map(({ kind, channels: stored }) => {
            const channels = chosen[kind] ?? stored;
            return (
              <tr key={kind}>
                <th scope="row">{KINDS[kind]}</th>
                {CHANNELS.map(({ channel, label }) => (
                  <td key={channel}>
                    {channel === 'WEBHOOK' && !SELLER_KINDS.has(kind) ? (
                      '–'
                    ) : (
                      <input type="checkbox" aria-label={`${KINDS[kind]}: ${label}`} checked={channels.includes(channel)} disabled={saved.fetching} onChange={(e) => void toggle(kind, channels, channel, (e.target as HTMLInputElement).checked)} />
                    )}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
