import type { IncomingMessage, Server } from 'node:http';
import { closeServer, createServiceServer, HttpError, listen, sendJson } from '../platform/graphql/http.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { Projector } from './projector.js';
import { RebuildRefusedError } from './versions.js';

export interface ProjectorHttpOptions {
  projectors: readonly Projector[];
  metrics: Metrics;
  logger: Logger;
  /** Required as `Authorization: Bearer <token>` to start a rebuild; without one, only non-production allows it. */
  adminToken?: string;
  production: boolean;
  /** Checks of the servers the projector depends on. */
  readiness?: Record<string, () => Promise<void>>;
}

/**
 * The projector process's HTTP surface: /metrics, /health/* (ready while every projection runs,
 * is within its lag limit and stands at no parked event, or stands by for another process holding
 * its lease), `role` (active or standby) per projection in `GET /projections` (positions, lag,
 * health, parked events, rebuild progress), `POST /projections/rebuild?name=<projection>`
 * (starts a rebuild; the replay CLI drives it and draws progress; a second rebuild of a projection,
 * here or in another projector process, is refused with 409 `REBUILD_IN_PROGRESS`) and
 * `POST /projections/retry-parked?name=<projection>` (retries its parked events).
 */
export async function startProjectorHttp(options: ProjectorHttpOptions, listenOn: { port: number; host: string }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { projectors, logger } = options;
  const status = () =>
    Promise.all(
      projectors.map(async (p) => ({
        name: p.name,
        role: p.role,
        position: p.currentPosition,
        lag: p.lagBehind,
        health: p.health,
        policy: p.poisonPolicy,
        parked: await p.parkedEvents(),
        rebuild: p.rebuildProgress,
      })),
    );
  const admin = (req: IncomingMessage, what: string) => {
    if (req.method !== 'POST') throw new HttpError(405, 'use POST', { allow: 'POST' });
    const authorised = options.adminToken ? req.headers.authorization === `Bearer ${options.adminToken}` : !options.production;
    if (!authorised) throw new HttpError(403, `${what} needs the admin token (ADMIN_TOKEN)`);
    const name = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name');
    const projector = projectors.find((p) => p.name === name);
    if (!projector) throw new HttpError(404, `no projection named ${name ?? '(none)'}; known: ${projectors.map((p) => p.name).join(', ')}`);
    return projector;
  };
  const server = createServiceServer({
    logger,
    registry: options.metrics.registry,
    graphql: () => Promise.reject(new HttpError(404, 'the projector serves no GraphQL')),
    readiness: {
      ...options.readiness,
      ...Object.fromEntries(
        projectors.map((p) => [
          `projection:${p.name}`,
          () => {
            const health = p.health;
            return health.ok ? Promise.resolve() : Promise.reject(new Error(health.reason ?? 'unhealthy'));
          },
        ]),
      ),
    },
    routes: {
      '/projections': async (_req, res) => sendJson(res, 200, await status()),
      '/projections/rebuild': async (req, res) => {
        const projector = admin(req, 'rebuilding');
        let started: Awaited<ReturnType<Projector['beginRebuild']>>;
        try {
          if (projector.role === 'standby') throw new HttpError(409, `${projector.name} is a standby here: rebuild it on the process that holds its lease`, {}, 'STANDBY');
          started = await projector.beginRebuild();
        } catch (error) {
          // Refused (another rebuild runs, here or in another projector process; a newer read model; not rebuildable): 409 with its code.
          if (error instanceof RebuildRefusedError) throw new HttpError(409, error.message, {}, error.code);
          throw error;
        }
        started.done.catch((error: unknown) => logger.error({ err: error, projection: projector.name }, 'rebuild failed'));
        sendJson(res, 202, { started: projector.name });
      },
      '/projections/retry-parked': async (req, res) => {
        const projector = admin(req, 'retrying parked events');
        sendJson(res, 200, { projection: projector.name, ...(await projector.retryParked()) });
      },
    },
  });
  const port = await listen(server, listenOn.port, listenOn.host);
  return { server, port, close: () => closeServer(server) };
}
