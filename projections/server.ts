import type { Server } from 'node:http';
import { closeServer, createServiceServer, HttpError, listen, sendJson } from '../platform/graphql/http.js';
import type { Logger } from '../platform/logging.js';
import type { Metrics } from '../platform/metrics/metrics.js';
import type { Projector } from './projector.js';

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
 * The projector process's HTTP surface: /metrics, /health/*, `GET /projections` (positions and
 * rebuild progress) and `POST /projections/rebuild?name=<projection>` (starts a rebuild; the
 * replay CLI drives it and draws progress).
 */
export async function startProjectorHttp(options: ProjectorHttpOptions, listenOn: { port: number; host: string }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const { projectors, logger } = options;
  const status = () => projectors.map((p) => ({ name: p.name, position: p.currentPosition, rebuild: p.rebuildProgress }));
  const server = createServiceServer({
    logger,
    registry: options.metrics.registry,
    graphql: () => Promise.reject(new HttpError(404, 'the projector serves no GraphQL')),
    readiness: { ...options.readiness, ...Object.fromEntries(projectors.map((p) => [`projection:${p.name}`, () => (p.running ? Promise.resolve() : Promise.reject(new Error('not running')))])) },
    routes: {
      '/projections': (_req, res) => Promise.resolve(sendJson(res, 200, status())),
      '/projections/rebuild': (req, res) => {
        if (req.method !== 'POST') return Promise.reject(new HttpError(405, 'use POST', { allow: 'POST' }));
        const authorised = options.adminToken ? req.headers.authorization === `Bearer ${options.adminToken}` : !options.production;
        if (!authorised) return Promise.reject(new HttpError(403, 'rebuilding needs the admin token (ADMIN_TOKEN)'));
        const name = new URL(req.url ?? '/', 'http://localhost').searchParams.get('name');
        const projector = projectors.find((p) => p.name === name);
        if (!projector) return Promise.reject(new HttpError(404, `no projection named ${name ?? '(none)'}; known: ${projectors.map((p) => p.name).join(', ')}`));
        if (!projector.rebuildable) return Promise.reject(new HttpError(409, `${projector.name} cannot be rebuilt (a replay would repeat its effects)`));
        if (projector.rebuildProgress.state === 'running') return Promise.reject(new HttpError(409, `${projector.name} is already rebuilding`));
        projector.rebuild().catch((error: unknown) => logger.error({ err: error, projection: projector.name }, 'rebuild failed'));
        sendJson(res, 202, { started: projector.name });
        return Promise.resolve();
      },
    },
  });
  const port = await listen(server, listenOn.port, listenOn.host);
  return { server, port, close: () => closeServer(server) };
}
