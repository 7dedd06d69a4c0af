import { withServer } from '../testing/servers.js';
import { eventStoreContract } from './event-store.contract.js';
import { EventStoreDBEventStore } from './eventstoredb-event-store.js';

withServer('EVENTSTORE_URL', 'EventStore contract: EventStoreDB', (url) => {
  eventStoreContract('EventStoreDB', () => EventStoreDBEventStore.connect(url));
});
