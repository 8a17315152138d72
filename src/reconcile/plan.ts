/**
 * Which windows a pass lists, decided from the cursor and the clock alone (pure, so the workflow
 * and the tests share it). Times are Unix seconds.
 */

/** One listing: events created in [gte, lte], all of them or only those the provider failed to deliver. */
export interface Listing {
  gte: number;
  lte: number;
  undelivered: boolean;
}

export interface PassPlan {
  listings: Listing[];
  /** Where the cursor goes once every listing was handed over; undefined for a backfill. */
  advanceTo?: number;
  /** Set when the scheduled window was cut to what the record covers: events before it are not looked at. */
  clampedFrom?: number;
}

export interface PlanInput {
  now: number;
  /** The source's cursor, if a pass ever completed. */
  cursor?: number;
  /** A backfill's range instead of the cursor. */
  range?: { from: number; to?: number };
  /** How far a pass reaches back before its cursor: events the provider lists late still fall inside. */
  overlapSeconds: number;
  /** Where a source's first pass starts, before now. */
  firstLookbackSeconds: number;
  /** How long the event log remembers what was accepted (EVENT_LOG_RETENTION). */
  retentionSeconds: number;
  /** How far back the provider lists events at all (Stripe: 30 days). */
  providerWindowSeconds: number;
  /** Whether the provider can list only what it failed to deliver (then older events are asked for that way). Default true. */
  listsUndelivered?: boolean;
}

/** A lookback the event log (or the provider) cannot answer for: refused, never run half-blind. */
export class LookbackRefusedError extends Error {
  override readonly name = 'LookbackRefusedError';
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

export function planPass(input: PlanInput): PassPlan {
  const { now } = input;
  // Further back than the event log remembers, an event whose run Temporal has forgotten would look
  // new and run a second time; further back than the provider lists, nothing can be found.
  const reach = Math.min(input.retentionSeconds, input.providerWindowSeconds);
  const oldest = now - reach;
  if (input.range) {
    const to = Math.min(input.range.to ?? now, now);
    const { from } = input.range;
    if (from >= to) throw new LookbackRefusedError(`the range is empty: ${iso(from)} is not before ${iso(to)}`);
    if (from < oldest) {
      const by = input.retentionSeconds <= input.providerWindowSeconds ? 'the event log keeps (EVENT_LOG_RETENTION)' : 'the provider lists';
      throw new LookbackRefusedError(
        `refusing to look back to ${iso(from)}: that is further than ${by}, ${Math.round(reach / 3600)}h; the earliest is ${iso(oldest)}`,
      );
    }
    return { listings: [{ gte: from, lte: to, undelivered: false }] };
  }
  const wanted = input.cursor === undefined ? now - input.firstLookbackSeconds : input.cursor - input.overlapSeconds;
  const gte = Math.max(wanted, oldest);
  const listings: Listing[] = [{ gte, lte: now, undelivered: false }];
  // Older than the window, only what the provider says it failed to deliver: its own retries may
  // still be under way, or over with the endpoint unreachable throughout.
  if (gte > oldest && input.listsUndelivered !== false) listings.push({ gte: oldest, lte: gte - 1, undelivered: true });
  return { listings, advanceTo: now, ...(wanted < oldest ? { clampedFrom: wanted } : {}) };
}
