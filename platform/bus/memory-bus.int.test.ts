import { busContract } from './bus.contract.js';
import { MemoryBus } from './memory-bus.js';

busContract('embedded in-process', () => Promise.resolve(new MemoryBus()));
