/**
 * The Temporal server's own latency for StartWorkflowExecution, from the dev server's Prometheus
 * histogram (`service_latency`, frontend): the part of an ack spent inside Temporal. Percentiles
 * from a histogram are bucket bounds ("p99 ≤ 50 ms"), not exact values.
 */
export interface Histogram {
  count: number;
  sumSeconds: number;
  /** Upper bound in seconds → cumulative count, ascending. */
  buckets: [number, number][];
}

const LINE = /^service_latency_(bucket|sum|count)\{([^}]*)\} (\S+)$/;

export async function startLatency(metricsUrl: string): Promise<Histogram | undefined> {
  const text = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.text(),
    () => undefined,
  );
  if (text === undefined) return undefined;
  const h: Histogram = { count: 0, sumSeconds: 0, buckets: [] };
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (
      !m ||
      !m[2]!.includes('operation="StartWorkflowExecution"') ||
      !m[2]!.includes('service_name="frontend"') ||
      !m[2]!.includes('namespace="default"')
    )
      continue;
    const value = Number(m[3]);
    if (m[1] === 'count') h.count = value;
    else if (m[1] === 'sum') h.sumSeconds = value;
    else h.buckets.push([Number(/le="([^"]+)"/.exec(m[2]!)![1]), value]);
  }
  h.buckets.sort((a, b) => a[0] - b[0]);
  return h;
}

/** What happened between two scrapes. */
export function since(before: Histogram, after: Histogram): Histogram {
  return {
    count: after.count - before.count,
    sumSeconds: after.sumSeconds - before.sumSeconds,
    buckets: after.buckets.map(([le, n], i) => [le, n - (before.buckets[i]?.[1] ?? 0)]),
  };
}

/** The smallest bucket bound under which at least p % of the observations fall, in ms. */
function boundMs(h: Histogram, p: number): number {
  const needed = (p / 100) * h.count;
  return (h.buckets.find(([, n]) => n >= needed)?.[0] ?? Infinity) * 1000;
}

export function describe(h: Histogram | undefined): string {
  if (!h || h.count === 0) return 'no StartWorkflowExecution observed (metrics unavailable?)';
  return (
    `${h.count} starts, mean ${((h.sumSeconds / h.count) * 1000).toFixed(1)} ms, ` +
    `p50 ≤ ${boundMs(h, 50)} ms, p90 ≤ ${boundMs(h, 90)} ms, p99 ≤ ${boundMs(h, 99)} ms`
  );
}
