import type { HooklineMigration } from './migration.js';

/**
 * What one unit of an order line was paid, after its discounts, in the order's currency (a decimal
 * string, as `orders.total_amount`): known when the order was read from a store that says (Shopify's
 * `discountedUnitPriceAfterAllDiscountsSet`), null otherwise. With it a return of some of an order's
 * items is refunded for those items, not for the whole order (src/agent/policy.ts).
 */
export const orderItemPrices: HooklineMigration = {
  async up(db) {
    await db.schema.alterTable('order_items').addColumn('unit_price', 'text').execute();
  },
  async down(db) {
    await db.schema.alterTable('order_items').dropColumn('unit_price').execute();
  },
};
