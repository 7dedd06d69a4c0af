import type { Actor } from './decider.js';
import type { ProductService } from './service.js';
import type { Logger } from '../../platform/logging.js';
import { AlreadyExistsError } from '../../platform/errors.js';

/** The demo seller who owns the seeded catalog; the user subgraph creates the matching account (development). */
export const DEMO_SELLER: Actor = { userId: '00000000-0000-4000-8000-00000000d3e0', role: 'SELLER' };
export const DEMO_SELLER_ACCOUNT = { userId: DEMO_SELLER.userId, email: 'seller@demo.storefront.local', password: 'demo-seller-password', name: 'Demo Seller' };

const CATALOG: [sku: string, name: string, category: string, cents: number, stock: number, description: string][] = [
  ['MUG-CLASSIC', 'Classic Mug', 'kitchen', 1299, 40, 'Stoneware mug, 350 ml.'],
  ['MUG-TRAVEL', 'Travel Mug', 'kitchen', 2499, 25, 'Insulated, keeps coffee hot for 6 hours.'],
  ['KETTLE-STEEL', 'Steel Kettle', 'kitchen', 5999, 12, 'Stovetop kettle, 1.7 l.'],
  ['PAN-CAST-26', 'Cast Iron Pan 26 cm', 'kitchen', 4499, 8, 'Pre-seasoned.'],
  ['KNIFE-CHEF', "Chef's Knife", 'kitchen', 7999, 15, '20 cm blade, carbon steel.'],
  ['TEE-BLACK-M', 'Black T-Shirt M', 'apparel', 1999, 60, 'Organic cotton.'],
  ['TEE-WHITE-M', 'White T-Shirt M', 'apparel', 1999, 55, 'Organic cotton.'],
  ['HOODIE-GREY-L', 'Grey Hoodie L', 'apparel', 4999, 20, 'Brushed fleece.'],
  ['SOCKS-WOOL', 'Wool Socks', 'apparel', 1299, 100, 'Merino blend, pair.'],
  ['CAP-NAVY', 'Navy Cap', 'apparel', 1799, 0, 'Adjustable strap.'],
  ['BOOK-DDD', 'Domain-Driven Design', 'books', 5499, 7, 'Tackling complexity in the heart of software.'],
  ['BOOK-DDIA', 'Designing Data-Intensive Applications', 'books', 4999, 9, 'Reliable, scalable, maintainable systems.'],
  ['BOOK-ES', 'Event Sourcing in Practice', 'books', 3999, 4, 'Streams, projections and sagas.'],
  ['BOOK-GQL', 'Production GraphQL', 'books', 2999, 11, 'Schemas, federation and performance.'],
  ['LAMP-DESK', 'Desk Lamp', 'home', 3499, 18, 'Dimmable LED.'],
  ['PLANT-POT-M', 'Plant Pot M', 'home', 1599, 30, 'Terracotta, 18 cm.'],
  ['BLANKET-WOOL', 'Wool Blanket', 'home', 8999, 6, '130 x 170 cm.'],
  ['CANDLE-CEDAR', 'Cedar Candle', 'home', 1899, 45, '40 hours burn time.'],
  ['HEADPHONES-BT', 'Bluetooth Headphones', 'electronics', 12999, 10, 'Noise cancelling, 30 h battery.'],
  ['CABLE-USBC-2M', 'USB-C Cable 2 m', 'electronics', 999, 200, 'Braided, 100 W.'],
  ['CHARGER-65W', '65 W Charger', 'electronics', 3999, 35, 'GaN, two ports.'],
  ['KEYBOARD-MECH', 'Mechanical Keyboard', 'electronics', 10999, 5, 'Hot-swappable switches.'],
];

/** Seeds a demo catalog into an empty event store. Product ids derive from SKUs, so a repeat is harmless. */
export async function seedDemoCatalog(service: ProductService, logger: Logger): Promise<number> {
  let created = 0;
  for (const [sku, name, category, amount, stock, description] of CATALOG) {
    try {
      await service.create({ sku, name, category, description, price: { amount, currency: 'EUR' }, initialStock: stock }, DEMO_SELLER, 'seed-demo-catalog');
      created++;
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
    }
  }
  logger.info({ created }, 'demo catalog seeded');
  return created;
}
