import { createLogger } from '../logging.js';
import { withServer } from '../testing/servers.js';
import { busContract } from './bus.contract.js';
import { KafkaBus } from './kafka-bus.js';

withServer('KAFKA_BROKERS', 'Bus contract: Kafka', (brokers) => {
  busContract('Kafka', () => KafkaBus.connect(brokers, { clientId: 'bus-contract', logger: createLogger('test', 'silent') }));
});
