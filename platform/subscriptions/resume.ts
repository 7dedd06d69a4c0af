/**
 * How far back a subscriber may resume from its cursor (SUBSCRIPTION_RESUME_RETENTION_SECONDS,
 * SUBSCRIPTION_RESUME_MAX_EVENTS): a cursor whose event is older than the retention, or more than
 * `maxScannedEvents` events behind the head of the log, gives CURSOR_EXPIRED.
 */
export interface ResumeOptions {
  retentionSeconds: number;
  maxScannedEvents: number;
}

export const DEFAULT_RESUME: ResumeOptions = { retentionSeconds: 86_400, maxScannedEvents: 100_000 };
