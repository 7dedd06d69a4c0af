import type { Role } from './__generated__/graphql.js';

export interface Session {
  token: string;
  user: { id: string; name: string; role: Role };
}

const KEY = 'storefront.session';

/** The signed-in user, kept for the browser session (sessionStorage: gone when the tab closes). */
export function loadSession(): Session | undefined {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return session?.token ? session : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}
