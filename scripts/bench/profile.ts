import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where the receiver's time went during one phase, from the V8 CPU profile `node --cpu-prof`
 * writes when the process exits. Each sample is charged to the innermost frame that belongs to a
 * known component, so a native write under Express's `res.json` is the HTTP answer's cost and one
 * under grpc-js is the Temporal client's.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Express and the packages it pulls in: their frames count as the HTTP server's time. */
const EXPRESS_PACKAGES = [
  'express',
  'router',
  'body-parser',
  'raw-body',
  'finalhandler',
  'send',
  'content-type',
  'type-is',
  'on-finished',
  'statuses',
  'qs',
  'iconv-lite',
  'mime-types',
  'accepts',
  'negotiator',
  'etag',
  'fresh',
  'proxy-addr',
  'depd',
  'debug',
  'cookie',
  'vary',
  'encodeurl',
  'escape-html',
  'parseurl',
  'merge-descriptors',
  'path-to-regexp',
];

const COMPONENTS: [string, RegExp][] = [
  [
    'Temporal client (grpc-js, protobufjs, @temporalio/*, node:http2)',
    /node_modules\/(@grpc|protobufjs|@protobufjs|@temporalio|long)\/|^node:internal\/http2/,
  ],
  ['hookline code (src/: verify, zod, identity, intake, log, metrics)', /\/src\/|node_modules\/(zod|prom-client)\//],
  [
    'HTTP server + Express (node:http, express, router, body-parser)',
    new RegExp(`node_modules/(${EXPRESS_PACKAGES.join('|')})/|^node:(_http|internal/http|net|internal/stream_base)`),
  ],
];

function componentOf(url: string, name: string): string | undefined {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)') return 'idle';
  for (const [component, pattern] of COMPONENTS) if (pattern.test(url)) return component;
  return undefined;
}

/** Milliseconds per component within [fromUs, toUs] (CLOCK_MONOTONIC microseconds, as the profile's own timestamps). */
export function receiverTimeByComponent(dir: string, fromUs: number, toUs: number): Map<string, number> | undefined {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    // The main thread's profile is the large one; tsx's loader thread writes a small one too.
    .sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0];
  if (!file) return undefined;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const charged = new Map<number, string>();
  const chargeOf = (id: number): string => {
    const known = charged.get(id);
    if (known) return known;
    const node = byId.get(id)!;
    const own = componentOf(node.callFrame.url, node.callFrame.functionName);
    const up = parent.get(id);
    const result = own ?? (up === undefined ? 'other (Node internals, tsx, the event loop)' : chargeOf(up));
    charged.set(id, result);
    return result;
  };
  const totals = new Map<string, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const component = chargeOf(profile.samples[i]!);
    totals.set(component, (totals.get(component) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000);
  }
  return totals;
}
