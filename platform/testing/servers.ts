import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { describe, it } from 'vitest';

export type ServerVariable = 'EVENTSTORE_URL' | 'MONGODB_URL' | 'REDIS_URL' | 'KAFKA_BROKERS';

const WHY: Record<ServerVariable, string> = {
  EVENTSTORE_URL: 'no EventStoreDB server can be installed on this machine; it runs wherever EVENTSTORE_URL points at one (docker compose, the GitHub workflow)',
  MONGODB_URL: 'start one with scripts/servers/start.sh ferretdb and source scripts/servers/env.sh',
  REDIS_URL: 'start one with scripts/servers/start.sh redis and source scripts/servers/env.sh',
  KAFKA_BROKERS: 'start one with scripts/servers/start.sh kafka and source scripts/servers/env.sh',
};

/**
 * Runs a suite against a real server when its variable is set; otherwise registers one skipped
 * test whose name, and a line on stderr, say plainly what was skipped and why.
 */
export function withServer(variable: ServerVariable, title: string, suite: (url: string) => void): void {
  const url = process.env[variable]?.trim();
  if (url) {
    suite(url);
    return;
  }
  process.stderr.write(`SKIPPED: ${title} (${variable} is not set: ${WHY[variable]})\n`);
  describe(title, () => {
    it.skip(`SKIPPED: ${variable} is not set`, () => undefined);
  });
}

/** The same MongoDB URL with a fresh database name, so test runs never share data. */
export function freshMongoUrl(url: string): { url: string; database: string } {
  const u = new URL(url);
  const database = `storefront_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  u.pathname = `/${database}`;
  return { url: u.toString(), database };
}

/**
 * Runs a whole-system suite on MongoDB (FerretDB), Redis and Kafka when all three are set, in a
 * fresh database and a fresh namespace (Redis keys, Kafka topics and groups); otherwise registers
 * a plainly named skipped test.
 */
export function withAllServers(title: string, suite: (servers: Record<string, string>) => void): void {
  const { MONGODB_URL: mongo, REDIS_URL: redis, KAFKA_BROKERS: kafka } = process.env;
  if (!mongo || !redis || !kafka) {
    withServer(!mongo ? 'MONGODB_URL' : !redis ? 'REDIS_URL' : 'KAFKA_BROKERS', title, () => undefined);
    return;
  }
  suite({ MONGODB_URL: freshMongoUrl(mongo).url, REDIS_URL: redis, KAFKA_BROKERS: kafka, NAMESPACE: `t-${randomUUID().slice(0, 8)}` });
}

/** Drops the database a suite ran in (the fresh one `withAllServers` named); nothing without a URL. */
export async function dropTestDatabase(url: string | undefined): Promise<void> {
  if (!url) return;
  const client = await MongoClient.connect(url);
  try {
    await client.db().dropDatabase();
  } finally {
    await client.close();
  }
}
