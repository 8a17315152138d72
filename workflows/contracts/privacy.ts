import type { EnvelopeOf } from '../../src/events/envelope';
import type { PrivacyRequest } from '../../src/events/fields';

/** The contract of the privacy request workflow (workflows/privacy.ts runs it). */

export interface PrivacyResult {
  request: PrivacyRequest;
  /** Rows found (a data request) or erased (a redaction), per table: no personal data. */
  rows: Record<string, number>;
}

export type PrivacyRequestWorkflow = (envelope: EnvelopeOf<'privacy.requested'>) => Promise<PrivacyResult>;
