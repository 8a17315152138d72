// @ts-check
/**
 * The layers, checked by `npm run layers` (part of `npm test`). From the bottom up:
 *
 *   src/events/            event types, schemas, identity, money, the built-in senders' and providers' names: know nothing above them
 *   src/signatures/        the scheme table (verify and sign over raw bytes): knows nothing of ours
 *   src/providers/         one folder per provider: its payloads' schemas and their mapping to events
 *   workflows/contracts/   each workflow's messages, types, outcomes and search attributes: what clients import
 *   workflows/*.ts         the workflow code (Temporal's sandbox); only the worker loads it, by path
 *   src/intake/            event type → workflow route, the intake interface, the direct start in Temporal
 *   src/spool/, src/receiver/, src/handoff/, src/operators/, activities/, scripts/   clients
 *
 * Type-only imports count: a cycle through types is still two modules that cannot be understood
 * apart. Nothing here lists an exception.
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle is a design question: move what both sides need below them.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'clients-import-contracts',
      severity: 'error',
      comment:
        "Outside workflows/, import a workflow's contract (workflows/contracts/), never its code: clients start and " +
        'message workflows by name. The worker loads workflow code by path (src/worker/bundle.ts, scripts/build.ts).',
      from: { path: '^(src|activities|scripts)/' },
      to: { path: '^workflows/', pathNot: '^workflows/contracts/' },
    },
    {
      name: 'contracts-import-no-workflow-code',
      severity: 'error',
      comment: 'A contract is what clients load: it must not pull workflow code (or its activity proxies) in.',
      from: { path: '^workflows/contracts/' },
      to: { path: '^workflows/', pathNot: '^workflows/contracts/' },
    },
    {
      name: 'events-at-the-bottom',
      severity: 'error',
      comment: 'Events, schemas and identity know nothing above them: the route to a workflow lives in src/intake/routes.ts.',
      from: { path: '^src/events/' },
      to: { path: '^(src|workflows|activities|scripts)/', pathNot: '^src/events/' },
    },
    {
      name: 'signatures-at-the-bottom',
      severity: 'error',
      comment: 'The signature schemes are whole in themselves: the receiver, the providers and the CLIs use them.',
      from: { path: '^src/signatures/' },
      to: { path: '^(src|workflows|activities|scripts)/', pathNot: '^src/signatures/' },
    },
    {
      name: 'providers-below-the-receiver',
      severity: 'error',
      comment:
        'A provider reads payloads into events; the receiver, the quarantine replay, the send command (and reconciliation) use ' +
        'it. It never reaches up into the receiver, the intake or the spool.',
      from: { path: '^src/providers/' },
      to: { path: '^(src/(receiver|intake|spool|temporal|worker|handoff|operators)|workflows|activities|scripts)/' },
    },
    {
      name: 'intake-below-receiver-and-spool',
      severity: 'error',
      comment: 'The intake interface sits below the receiver and the spool, which the receiver wires together.',
      from: { path: '^src/intake/' },
      to: { path: '^src/(receiver|spool)/' },
    },
    {
      name: 'spool-below-receiver',
      severity: 'error',
      comment: 'The spool is an intake of its own; the receiver uses it, never the other way round.',
      from: { path: '^src/spool/' },
      to: { path: '^src/receiver/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|\\.data)/' },
    // Type-only imports are edges too (they are how the 17 cycles of issue 20 were made).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.mts', '.js', '.json'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
