import { workflowInfo } from '@temporalio/workflow';
import type { EnvelopeOf } from '../src/events/envelope';
import { knowledgeBase, notifications } from './activities';

/** A profile change from the CRM: the knowledge base follows it; the customer needs no message. */
export async function customerUpdatedWorkflow(envelope: EnvelopeOf<'customer.updated'>): Promise<{ applied: boolean }> {
  return { applied: await knowledgeBase.updateCustomer(envelope.event) };
}

/**
 * A product ran short: every customer with an open order for it hears about the delay, once per
 * order, rather than finding out when the parcel does not come.
 */
export async function stockShortageWorkflow(envelope: EnvelopeOf<'inventory.stock_shortage'>): Promise<{ notifiedOrders: string[] }> {
  const { event } = envelope;
  const { workflowId } = workflowInfo();
  const affected = await knowledgeBase.findOpenOrdersWithProduct({ productId: event.product_id, orderIds: event.affected_order_ids });
  for (const order of affected) {
    await notifications.notifyCustomer({
      idempotencyKey: `${workflowId}:${order.orderId}`,
      customerId: order.customerId,
      orderId: order.orderId,
      message: {
        kind: 'stock-shortage',
        orderId: order.orderId,
        productId: event.product_id,
        expectedRestockDate: event.expected_restock_date,
      },
      testMode: envelope.testMode === true,
    });
  }
  return { notifiedOrders: affected.map((o) => o.orderId) };
}
