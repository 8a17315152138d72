import type { VersioningBehavior } from '@temporalio/common';

/**
 * How each workflow type moves between builds under Worker Versioning (docs/production.md,
 * "Releasing a new version"). PINNED: a run stays on the build it started on, so its code may
 * change freely, but that build's workers must run until its last pinned run closes.
 * AUTO_UPGRADE: a run moves to the current build at its next workflow task, so every command
 * change must be behind `patched()`; the release gate replays the previous release's histories of
 * these types (test/histories/releases/) against the current code to prove it.
 *
 * The rule: a type whose runs finish in seconds is pinned; one that can wait days (for a parcel,
 * a person, an evidence deadline) upgrades, because pinning it would keep a month of builds
 * running and deny its open runs every activity fix.
 */
export const WORKFLOW_VERSIONING = {
  // Seconds: a few activities on one event, nothing waited for.
  orderStatusWorkflow: 'PINNED',
  paymentEventWorkflow: 'PINNED',
  customerUpdatedWorkflow: 'PINNED',
  stockShortageWorkflow: 'PINNED',
  // Seconds: hands one event to its return's workflow and ends.
  returnEventRelayWorkflow: 'PINNED',
  // Seconds: hands a customer's follow-up to its inquiry's open conversation and ends.
  inquiryFollowUpWorkflow: 'PINNED',
  // Seconds: a store-run return's status told to the customer.
  returnStatusWorkflow: 'PINNED',
  // One reconciliation pass: pages of a provider's events handed to the intake, minutes at most.
  reconcileWorkflow: 'PINNED',
  // A privacy request: gathers or erases in a few activities. It can wait while a spooled event about
  // the person drains (minutes, in an outage); pinned, the build it started on finishes it, and
  // `release retire` waits for it.
  privacyRequestWorkflow: 'PINNED',
  // The 30-day window: waits for its details, a person's approval, then for its parcel.
  processReturnWorkflow: 'AUTO_UPGRADE',
  // Waits for a person, for as long as it takes (its SLA timers re-announce it).
  conversationWorkflow: 'AUTO_UPGRADE',
  // A chargeback waits for its conversation until the evidence deadline, days away.
  disputeWorkflow: 'AUTO_UPGRADE',
  // An inquiry or a shipment problem that escalates waits for its conversation to close.
  customerInquiryWorkflow: 'AUTO_UPGRADE',
  shipmentEventWorkflow: 'AUTO_UPGRADE',
  // Held until a person replays or discards the event, or its keep-for time (days) passes.
  quarantinedEventWorkflow: 'AUTO_UPGRADE',
} as const satisfies Record<string, VersioningBehavior>;

export type WorkflowTypeName = keyof typeof WORKFLOW_VERSIONING;

/** The types whose open runs move to a new build: each needs `patched()` for a command change. */
export const AUTO_UPGRADE_TYPES = (Object.keys(WORKFLOW_VERSIONING) as WorkflowTypeName[]).filter(
  (type) => WORKFLOW_VERSIONING[type] === 'AUTO_UPGRADE',
);
