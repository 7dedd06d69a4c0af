import { ensureStorefront } from './build.js';

/** vitest globalSetup: builds the storefront once, before the test processes start systems that serve it. */
export default async function setup(): Promise<void> {
  await ensureStorefront();
}
