/** The one entry point the worker bundles: every workflow hookline runs. */
export { orderStatusWorkflow } from './orders';
export { customerInquiryWorkflow } from './inquiries';
export { paymentEventWorkflow } from './payments';
export { disputeWorkflow } from './disputes';
export { processReturnWorkflow, returnEventRelayWorkflow } from './returns';
export { shipmentEventWorkflow } from './shipments';
export { customerUpdatedWorkflow, stockShortageWorkflow } from './customers';
export { quarantinedEventWorkflow } from './quarantine';
export { conversationWorkflow } from './conversation';
export { returnStatusWorkflow } from './store-returns';
export { privacyRequestWorkflow } from './privacy';
export { reconcileWorkflow } from './reconcile';
