import { ConfigError } from '../platform/config.js';
import { runProcess } from '../platform/process.js';
import { checkRoleServers, parseRoles, runRole, runRoles, type Role } from './roles.js';
import { startSystem } from './system.js';

/** `npm start`: the whole system in one process, on the adapters the environment picks (embedded by default). */
function runEverything(): void {
  runProcess('storefront', async (config, logger) => {
    const system = await startSystem(config, { logger });
    const banner = [
      '',
      `  Storefront is up (${config.production ? 'production' : 'development'} mode)`,
      `  storefront (web app):         ${system.gatewayUrl.replace(/\/graphql$/, '/')}   <- open in a browser to shop and sell`,
      `  GraphQL (HTTP + graphql-ws):  ${system.gatewayUrl}   <- open in a browser to explore`,
      `  product subgraph:             ${system.productUrl}`,
      `  order subgraph:               ${system.orderUrl}`,
      `  user subgraph:                ${system.userUrl}`,
      `  recommendation subgraph:      ${system.recommendationUrl}`,
      `  notification subgraph:        ${system.notificationUrl}`,
      `  metrics:                      /metrics on each of them, and ${system.projectorUrl}/metrics (projector)`,
      ...Object.entries(system.infrastructure.describe).map(([port, adapter]) => `  ${`${port}:`.padEnd(30)}${adapter}`),
      '  Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(banner.join('\n') + '\n');
    return system;
  });
}

/** `npm start -- --role product[,order…]`: those services, one process each (launcher/roles.ts). */
let roles: Role[];
try {
  roles = parseRoles(process.argv.slice(2));
  checkRoleServers(roles, process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`storefront: ${error.message}`);
  process.exit(1);
}
if (roles.length === 0) runEverything();
else if (roles.length === 1) await runRole(roles[0]!);
else runRoles(roles);
