import type { ConversationWorkflow } from './conversation';
import type { CustomerUpdatedWorkflow, StockShortageWorkflow } from './customers';
import type { DisputeWorkflow } from './disputes';
import type { CustomerInquiryWorkflow, InquiryFollowUpWorkflow } from './inquiries';
import type { OrderStatusWorkflow } from './orders';
import type { PaymentEventWorkflow } from './payments';
import type { QuarantinedEventWorkflow } from './quarantine';
import type { ReconcileWorkflow } from './reconcile';
import type { ProcessReturnWorkflow, ReturnEventRelayWorkflow } from './returns';
import type { ShipmentEventWorkflow } from './shipments';
import type { ReturnStatusWorkflow } from './store-returns';
import type { PrivacyRequestWorkflow } from './privacy';

/**
 * Every workflow the worker runs, by the name it registers it under (its export of
 * workflows/index.ts), with the type its contract declares. Clients start and message workflows
 * by these names and types without loading their code; test/registry.test.ts checks the exports
 * of workflows/index.ts are exactly these, each of its declared type.
 */
export interface Workflows {
  orderStatusWorkflow: OrderStatusWorkflow;
  customerInquiryWorkflow: CustomerInquiryWorkflow;
  inquiryFollowUpWorkflow: InquiryFollowUpWorkflow;
  paymentEventWorkflow: PaymentEventWorkflow;
  disputeWorkflow: DisputeWorkflow;
  processReturnWorkflow: ProcessReturnWorkflow;
  returnEventRelayWorkflow: ReturnEventRelayWorkflow;
  shipmentEventWorkflow: ShipmentEventWorkflow;
  customerUpdatedWorkflow: CustomerUpdatedWorkflow;
  stockShortageWorkflow: StockShortageWorkflow;
  quarantinedEventWorkflow: QuarantinedEventWorkflow;
  conversationWorkflow: ConversationWorkflow;
  returnStatusWorkflow: ReturnStatusWorkflow;
  privacyRequestWorkflow: PrivacyRequestWorkflow;
  reconcileWorkflow: ReconcileWorkflow;
}

export type WorkflowName = keyof Workflows;
