import { z } from 'zod';

/** The outside systems the sandbox stands in for; each is mounted at `/<name>`. */
/**
 * `llm` is an OpenAI-compatible chat completions endpoint (./llm.ts), not a partner system; `stripe`,
 * `easypost`, `shopify` and `zendesk` stand in for those providers' own APIs (./stripe.ts, ./easypost.ts,
 * ./shopify.ts, ./zendesk.ts).
 */
export const SYSTEMS = ['crm', 'carrier', 'warehouse', 'inventory', 'payments', 'llm', 'stripe', 'easypost', 'shopify', 'zendesk'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export const FaultKind = {
  /** Answer with `status` (default 503), plus `Retry-After` when `retryAfterSeconds` is set. */
  Status: 'status',
  /** Wait `delayMs` (default 1000), then behave normally. */
  Latency: 'latency',
  /** Never answer; the client's timeout is the only way out. */
  Hang: 'hang',
  /** Destroy the socket without a response. */
  Reset: 'reset',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/**
 * `before` (default): the fault replaces the request, nothing happens upstream.
 * `after`: the request takes effect (and is remembered under its idempotency key), then the
 * response is lost to the fault: the "did my refund go through?" case idempotency exists for.
 */
export const FaultPhase = { Before: 'before', After: 'after' } as const;
export type FaultPhase = (typeof FaultPhase)[keyof typeof FaultPhase];

/** Body of `POST /_sandbox/faults`. */
export const FaultSpec = z
  .object({
    system: z.enum(SYSTEMS),
    method: z
      .string()
      .min(1)
      .transform((m) => m.toUpperCase())
      .optional(),
    /**
     * Matched against the path inside the system (`/return-labels`, not `/carrier/return-labels`):
     * a prefix, or a regular expression when it starts with `^`.
     */
    path: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('^') || isValidRegex(p), 'path starting with ^ must be a valid regular expression')
      .optional(),
    kind: z.enum([FaultKind.Status, FaultKind.Latency, FaultKind.Hang, FaultKind.Reset]),
    status: z.number().int().min(100).max(599).optional(),
    retryAfterSeconds: z.number().int().nonnegative().optional(),
    delayMs: z.number().int().nonnegative().max(600_000).optional(),
    /** How many matching requests to affect; omitted means until `DELETE /_sandbox/faults`. */
    times: z.number().int().positive().optional(),
    phase: z.enum([FaultPhase.Before, FaultPhase.After]).default(FaultPhase.Before),
  })
  .strict();
export type FaultSpec = z.input<typeof FaultSpec>;

/** What a fault does to one request, whether registered or from `X-Sandbox-Fault`. */
export interface FaultAction {
  kind: FaultKind;
  status: number;
  retryAfterSeconds?: number;
  delayMs?: number;
  phase: FaultPhase;
}

export interface ActiveFault extends FaultAction {
  id: string;
  system: SystemName;
  method?: string;
  path?: string;
  /** `null` means unlimited. */
  remaining: number | null;
  hits: number;
  createdAt: string;
}

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

function pathMatches(pattern: string | undefined, path: string): boolean {
  if (pattern === undefined) return true;
  return pattern.startsWith('^') ? new RegExp(pattern).test(path) : path.startsWith(pattern);
}

/** The registered faults, first-added-wins. */
export class FaultBook {
  private faults: ActiveFault[] = [];
  private seq = 0;

  constructor(private readonly now: () => Date) {}

  add(input: unknown): ActiveFault {
    const spec = FaultSpec.parse(input);
    const fault: ActiveFault = {
      id: `fault-${++this.seq}`,
      system: spec.system,
      ...(spec.method !== undefined ? { method: spec.method } : {}),
      ...(spec.path !== undefined ? { path: spec.path } : {}),
      kind: spec.kind,
      status: spec.status ?? 503,
      ...(spec.retryAfterSeconds !== undefined ? { retryAfterSeconds: spec.retryAfterSeconds } : {}),
      ...(spec.delayMs !== undefined ? { delayMs: spec.delayMs } : {}),
      phase: spec.phase,
      remaining: spec.times ?? null,
      hits: 0,
      createdAt: this.now().toISOString(),
    };
    this.faults.push(fault);
    return fault;
  }

  /** Find the first fault matching this request and consume one of its `times`. */
  take(system: SystemName, method: string, path: string): ActiveFault | undefined {
    const fault = this.faults.find(
      (f) => f.system === system && (f.method === undefined || f.method === method) && pathMatches(f.path, path),
    );
    if (!fault) return undefined;
    fault.hits += 1;
    if (fault.remaining !== null) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    }
    return fault;
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
  }
}

/**
 * Parse `X-Sandbox-Fault`: `status=503`, `status=429; retry-after=7`, `latency=2000`, `hang`,
 * `reset`, optionally with `phase=after`. Throws a message on anything else.
 */
export function parseFaultHeader(value: string): FaultAction {
  const parts = value
    .split(/[;,]/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  let action: FaultAction | undefined;
  let retryAfterSeconds: number | undefined;
  let phase: FaultPhase = FaultPhase.Before;
  const int = (raw: string | undefined, what: string): number => {
    if (raw === undefined || !/^\d+$/.test(raw)) throw new Error(`X-Sandbox-Fault: ${what} needs a whole number`);
    return Number(raw);
  };
  for (const part of parts) {
    const [rawName, raw] = part.split('=', 2).map((s) => s.trim());
    const name = (rawName ?? '').toLowerCase();
    if (name === 'status') {
      const status = int(raw, 'status');
      if (status < 100 || status > 599) throw new Error('X-Sandbox-Fault: status must be 100-599');
      action = { kind: 'status', status, phase };
    } else if (name === 'latency') action = { kind: 'latency', status: 503, delayMs: int(raw, 'latency'), phase };
    else if (name === 'hang') action = { kind: 'hang', status: 503, phase };
    else if (name === 'reset') action = { kind: 'reset', status: 503, phase };
    else if (name === 'retry-after') retryAfterSeconds = int(raw, 'retry-after');
    else if (name === 'phase' && (raw === 'before' || raw === 'after')) phase = raw;
    else throw new Error(`X-Sandbox-Fault: unknown directive ${JSON.stringify(part)}`);
  }
  if (!action) throw new Error('X-Sandbox-Fault: expected status=<code>, latency=<ms>, hang or reset');
  return { ...action, phase, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) };
}
