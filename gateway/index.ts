import { ConfigError } from '../platform/config.js';
import { createMetrics, serviceRegistry } from '../platform/metrics/metrics.js';
import { runProcess } from '../platform/process.js';
import { startGateway } from './server.js';

/** The gateway as its own process: subgraph URLs come from the configuration. */
runProcess('gateway', async (config, logger) => {
  const product = config.subgraphUrls.product;
  if (!product) throw new ConfigError('PRODUCT_SUBGRAPH_URL is required when the gateway runs on its own');
  const gateway = await startGateway(
    { subgraphs: [{ name: 'product', url: product }], logger, metrics: createMetrics(serviceRegistry('gateway')), production: config.production },
    { port: config.ports.gateway, host: config.host },
  );
  return { stop: () => gateway.close() };
});
