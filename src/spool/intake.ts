import type { Logger } from '../log';
import { eventWorkflowId, quarantineWorkflowId, TemporalUnavailableError, type Intake, type IntakeResult } from '../intake';
import type { PassOutcome } from './drain';
import { SpoolRefusedError, type SpooledStart, type SpoolStore } from './store';

export interface SpoolingIntakeOptions {
  /** The direct path: a start Temporal must acknowledge. */
  direct: Intake;
  spool: SpoolStore;
  /** Sources whose events fall back to the spool (WEBHOOK_SPOOL_<SOURCE>, on by default). */
  sources: ReadonlySet<string>;
  logger: Logger;
  /** A row was written: the drainer may start it now. */
  onSpooled?: () => void;
}

export interface SpoolingIntake extends Intake {
  /** True from a failed start until the drainer has emptied the spool with Temporal answering. */
  readonly bypassing: boolean;
  /** The drainer's report: Temporal answered and nothing is left (end the outage), or not. */
  drainerReport(outcome: PassOutcome): void;
}

/**
 * The direct intake with a durable fallback. A start that Temporal does not acknowledge in time
 * becomes a spooled row, committed before the answer, so a sender that never retries loses
 * nothing. Once one start has failed, later events go straight to the spool (no start timeout
 * per request while Temporal is down) until the drainer has emptied it with Temporal answering:
 * during an outage and its drain, events queue behind the older ones, oldest first.
 */
export function createSpoolingIntake(options: SpoolingIntakeOptions): SpoolingIntake {
  const { direct, spool, sources, logger } = options;
  let bypassing = false;

  async function toSpool(workflowId: string, start: SpooledStart, cause?: TemporalUnavailableError): Promise<IntakeResult> {
    // SpoolRefusedError (full, or the write failed) propagates: a 503, exactly as without a spool.
    const added = await spool.add(workflowId, start);
    if (!bypassing) logger.warn('spooling events: Temporal did not accept a start', { workflowId, error: cause?.message });
    bypassing = true;
    options.onSpooled?.();
    // Already spooled: a redelivery during the outage, answered as the duplicate it is.
    return added ? { workflowId, duplicate: false, queued: true } : { workflowId, duplicate: true };
  }

  async function intake(
    source: string,
    workflowId: string,
    start: SpooledStart,
    begin: () => Promise<IntakeResult>,
  ): Promise<IntakeResult> {
    if (!sources.has(source)) return begin();
    if (bypassing) {
      try {
        return await toSpool(workflowId, start);
      } catch (err) {
        // The spool cannot take it (full, or its disk or database failing): Temporal may well
        // answer by now, so try it before answering 503.
        if (err instanceof SpoolRefusedError) return begin().catch(() => Promise.reject(err));
        throw err;
      }
    }
    try {
      return await begin();
    } catch (err) {
      // Only a failure that waiting can fix is spooled; a refusal stays the sender's 503 and an error line.
      if (!(err instanceof TemporalUnavailableError) || !err.transient) throw err;
      return toSpool(workflowId, start, err);
    }
  }

  return {
    get bypassing() {
      return bypassing;
    },
    drainerReport(outcome) {
      // Temporal answered the drainer (it started rows, or refused some for good, or there was
      // nothing left): new events go straight to it again while the drainer works off the rest.
      // Waiting for an empty spool instead could last for ever under steady traffic, with the
      // drain rate, not Temporal's, as the receiver's capacity.
      if (outcome !== 'unavailable' && bypassing) {
        bypassing = false;
        logger.info('Temporal answers again: events go straight to it', { outcome });
      }
    },
    accept(envelope) {
      const workflowId = eventWorkflowId(envelope);
      return intake(envelope.source, workflowId, { kind: 'event', envelope }, () => direct.accept(envelope));
    },
    quarantine(event) {
      const workflowId = quarantineWorkflowId(event.source, event.identity);
      return intake(event.source, workflowId, { kind: 'quarantine', event }, () => direct.quarantine(event));
    },
  };
}
