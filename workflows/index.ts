/** The one entry point the worker bundles: every workflow hookline runs. */
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { WORKFLOW_VERSIONING } from './contracts/versioning';
import { orderStatusWorkflow } from './orders';
import { customerInquiryWorkflow, inquiryFollowUpWorkflow } from './inquiries';
import { paymentEventWorkflow } from './payments';
import { disputeWorkflow } from './disputes';
import { processReturnWorkflow, returnEventRelayWorkflow } from './returns';
import { shipmentEventWorkflow } from './shipments';
import { customerUpdatedWorkflow, stockShortageWorkflow } from './customers';
import { quarantinedEventWorkflow } from './quarantine';
import { conversationWorkflow } from './conversation';
import { returnStatusWorkflow } from './store-returns';
import { privacyRequestWorkflow } from './privacy';
import { reconcileWorkflow } from './reconcile';

const workflows = {
  orderStatusWorkflow,
  customerInquiryWorkflow,
  inquiryFollowUpWorkflow,
  paymentEventWorkflow,
  disputeWorkflow,
  processReturnWorkflow,
  returnEventRelayWorkflow,
  shipmentEventWorkflow,
  customerUpdatedWorkflow,
  stockShortageWorkflow,
  quarantinedEventWorkflow,
  conversationWorkflow,
  returnStatusWorkflow,
  privacyRequestWorkflow,
  reconcileWorkflow,
} satisfies Record<keyof typeof WORKFLOW_VERSIONING, (...args: never[]) => Promise<unknown>>;

// Each type's versioning behaviour, and why, is in contracts/versioning.ts; `satisfies` above and
// this loop keep the table and the exported workflows the same set. Declared only on a versioned
// worker: Temporal refuses a behaviour from an unversioned one (WORKER_VERSIONING=off, the bench's).
for (const [type, fn] of Object.entries(workflows) as [keyof typeof workflows, (...args: never[]) => Promise<unknown>][])
  setWorkflowOptions(
    () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: WORKFLOW_VERSIONING[type] } : {}),
    fn,
  );

export {
  orderStatusWorkflow,
  customerInquiryWorkflow,
  inquiryFollowUpWorkflow,
  paymentEventWorkflow,
  disputeWorkflow,
  processReturnWorkflow,
  returnEventRelayWorkflow,
  shipmentEventWorkflow,
  customerUpdatedWorkflow,
  stockShortageWorkflow,
  quarantinedEventWorkflow,
  conversationWorkflow,
  returnStatusWorkflow,
  privacyRequestWorkflow,
  reconcileWorkflow,
};
