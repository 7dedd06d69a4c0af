import { pubSubContract } from './pubsub.contract.js';
import { MemoryPubSub } from './memory-pubsub.js';

const shared = new MemoryPubSub();
pubSubContract('embedded in-process', () => Promise.resolve(shared));
