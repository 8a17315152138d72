import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadReceiverConfig } from '../src/config/receiver';
import { loadWorkerConfig } from '../src/config/worker';
import { searchAttributeFlags } from '../workflows/contracts/search-attributes';
import { DYNAMIC_CONFIG_FILE, SERVER_CONFIG_FILE, serverEnv, serverPorts, temporalDatabases } from '../scripts/cluster-temporal';
import { TEMPORAL_SERVER_VERSION } from '../scripts/temporal-server';

// What docker-compose.yml must say, written out once so this file and that one tell the same
// story. The app's own configuration code is the authority on the variable names.

/** Set on both worker and receiver; the value is what the service gets with the operator's environment empty. */
const SHARED_ENV = {
  TEMPORAL_ADDRESS: 'temporal:7233',
  TEMPORAL_NAMESPACE: 'default',
  HOOKLINE_TASK_QUEUE: 'hookline',
  DATABASE_URL: 'postgres://temporal:temporal@postgresql:5432/hookline',
  LOG_LEVEL: 'info',
} as const;

const RECEIVER_ENV = { PORT: '3000', HOST: '0.0.0.0' } as const;
/** Secrets the operator must supply: `${NAME:?...}`, so compose refuses to start without them. */
const RECEIVER_REQUIRED = ['WEBHOOK_SECRET_OMS', 'WEBHOOK_SECRET_CRM', 'WEBHOOK_SECRET_PAYMENTS', 'WEBHOOK_SECRET_CARRIER'] as const;

const WORKER_ENV = { NOTIFY_FROM: 'hookline@localhost' } as const;
const WORKER_REQUIRED = ['CRM_BASE_URL', 'CARRIER_BASE_URL', 'WAREHOUSE_BASE_URL', 'INVENTORY_BASE_URL', 'PAYMENTS_BASE_URL'] as const;
/** Passed through when set, empty otherwise: `${NAME:-}`. */
const WORKER_OPTIONAL = [
  'CRM_API_TOKEN',
  'CARRIER_API_TOKEN',
  'WAREHOUSE_API_TOKEN',
  'INVENTORY_API_TOKEN',
  'PAYMENTS_API_TOKEN',
  'SMTP_URL',
  'AGENTS_CHAT_WEBHOOK_URL',
] as const;

/** Registered by the temporal-setup job, in the CLI's spelling of the type. */
const SEARCH_ATTRIBUTES = {
  HooklineSource: 'Keyword',
  HooklineEventType: 'Keyword',
  HooklineStatus: 'Keyword',
  HandoffStatus: 'Keyword',
  HandoffQueue: 'Keyword',
  HandoffPriority: 'Int',
  CustomerId: 'Keyword',
} as const;

const SERVICES = [
  'postgresql',
  'temporal-schema',
  'temporal',
  'temporal-setup',
  'temporal-ui',
  'worker',
  'receiver',
  // Monitoring (test/monitoring.test.ts checks their files).
  'prometheus',
  'grafana',
] as const;
/** Published ports (host = container). Temporal's frontend and the UI have no auth here: loopback only. */
const PORTS = {
  receiver: { port: 3000, loopbackOnly: false },
  temporal: { port: 7233, loopbackOnly: true },
  'temporal-ui': { port: 8080, loopbackOnly: true },
  prometheus: { port: 9090, loopbackOnly: true },
  grafana: { port: 3300, loopbackOnly: true },
} as const;
/** What each app service runs; the Dockerfile's default CMD is the receiver's. */
const ENTRYPOINTS = { worker: 'dist/src/worker/main.js', receiver: 'dist/src/receiver/main.js' } as const;

const ROOT = resolve(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  entrypoint?: string | string[];
  restart?: string;
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: string[] | Record<string, string | number | boolean | null>;
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  volumes?: (string | { type: string; source?: string; target: string })[];
  healthcheck?: { test: string | string[] };
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const service = (name: string): Service => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};

function environment(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** The value compose gives a variable when the operator's environment is empty; throws on `${X:?...}`. */
function withEmptyEnvironment(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, _name: string, op?: string, arg?: string) => {
    if (op === ':-' || op === '-') return arg ?? '';
    throw new Error(`${whole} has no default`);
  });
}

function dependsOn(name: string): Record<string, string> {
  const deps = service(name).depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((dep) => [dep, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([dep, spec]) => [dep, spec?.condition ?? 'service_started']));
}

function publishedPorts(name: string): { hostIp?: string; published: number; target: number }[] {
  return (service(name).ports ?? []).map((port) => {
    if (typeof port === 'object') return { hostIp: port.host_ip, published: Number(port.published), target: port.target };
    const parts = String(port).split(':');
    const target = Number(parts.pop());
    const published = Number(parts.pop() ?? target);
    return { hostIp: parts.pop(), published, target };
  });
}

const commandLine = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(' ') : (value ?? ''));

/** The schema job's shell script as `sh -c` receives it. */
const schemaScript = () => jobScript('temporal-schema');
/** The setup job's shell script as `sh -c` receives it: compose turns `$$` into `$`. */
const setupScript = () => jobScript('temporal-setup');
function jobScript(name: string): string {
  const { entrypoint, command } = service(name);
  expect(entrypoint).toEqual(['/bin/sh', '-c']);
  const script = Array.isArray(command) ? command : [command ?? ''];
  expect(script).toHaveLength(1);
  return script[0]!.replace(/\$\$/g, '$');
}

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage, continuation lines joined and comments dropped. */
function dockerfileStages(text: string): { from: string; name?: string; instructions: Instruction[] }[] {
  const instructions = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\S+)\s+(.*)$/.exec(line);
      if (!match) throw new Error(`unparseable Dockerfile line: ${line}`);
      return { op: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, ' ').trim() };
    });
  const stages: { from: string; name?: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.op === 'FROM') {
      const [from, as, name] = instruction.args.split(' ');
      stages.push({ from: from!, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

describe('docker-compose.yml', () => {
  it('has the stack’s services on pinned images', () => {
    expect(Object.keys(services).sort()).toEqual([...SERVICES].sort());
    expect(service('postgresql').image).toBe('postgres:16');
    // The server version `npm run cluster` builds (temporalio/auto-setup is deprecated).
    const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    expect(service('temporal').image).toBe(`temporalio/server:${version}`);
    expect(service('temporal-schema').image).toBe(`temporalio/admin-tools:${version}`);
    expect(service('temporal-setup').image).toBe(`temporalio/admin-tools:${version}`);
    expect(service('temporal-ui').image).toBe('temporalio/ui:2.49.1');
  });

  it('publishes the receiver, Temporal and the UI, and nothing else', () => {
    for (const name of SERVICES) {
      const expected = PORTS[name as keyof typeof PORTS];
      const ports = publishedPorts(name);
      if (!expected) {
        expect(ports, `${name} publishes no port`).toEqual([]);
        continue;
      }
      expect(ports, name).toHaveLength(1);
      expect(ports[0]!.target).toBe(expected.port);
      expect(ports[0]!.published).toBe(expected.port);
      if (expected.loopbackOnly) expect(ports[0]!.hostIp, `${name} binds to loopback`).toBe('127.0.0.1');
      else expect(ports[0]!.hostIp).toBeUndefined();
    }
    expect(environment('receiver').PORT).toBe(String(PORTS.receiver.port));
  });

  it('starts each service once what it needs is ready', () => {
    expect(dependsOn('postgresql')).toEqual({});
    expect(dependsOn('temporal-schema')).toEqual({ postgresql: 'service_healthy' });
    expect(dependsOn('temporal')).toEqual({ postgresql: 'service_healthy', 'temporal-schema': 'service_completed_successfully' });
    expect(dependsOn('temporal-setup')).toEqual({ temporal: 'service_healthy' });
    expect(dependsOn('temporal-ui')).toEqual({ temporal: 'service_healthy' });
    const app = {
      postgresql: 'service_healthy',
      temporal: 'service_healthy',
      'temporal-setup': 'service_completed_successfully',
    };
    expect(dependsOn('worker')).toEqual(app);
    expect(dependsOn('receiver')).toEqual(app);

    // Every `service_healthy` dependency has a healthcheck to become healthy by.
    for (const name of SERVICES) {
      for (const [dep, condition] of Object.entries(dependsOn(name))) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(service(dep).healthcheck, `${dep} healthcheck`).toBeDefined();
      }
    }
    expect(commandLine(service('postgresql').healthcheck?.test)).toContain('pg_isready');
    expect(commandLine(service('temporal').healthcheck?.test)).toBe('CMD nc -z 127.0.0.1 7233');
    expect(service('temporal-setup').restart).toBe('no');
    expect(service('temporal-schema').restart).toBe('no');
  });

  it('keeps Temporal’s data and hookline’s database in one PostgreSQL', () => {
    const pg = environment('postgresql');
    expect(pg.POSTGRES_USER).toBe('temporal');
    expect(withEmptyEnvironment(pg.POSTGRES_PASSWORD!)).toBe('temporal');

    const volumes = (service('postgresql').volumes ?? []).map(String);
    const data = volumes.find((volume) => volume.endsWith(':/var/lib/postgresql/data'));
    expect(data, 'a named data volume').toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(data!.split(':')[0]);

    const init = volumes.find((volume) => volume.split(':')[1] === '/docker-entrypoint-initdb.d');
    expect(init, 'the init scripts mount').toBeDefined();
    const initDir = init!.split(':')[0]!;
    const database = new URL(SHARED_ENV.DATABASE_URL).pathname.slice(1);
    expect(read(join(initDir, '01-hookline.sql'))).toMatch(new RegExp(`^CREATE DATABASE ${database};$`, 'm'));

    const temporal = environment('temporal');
    expect(temporal).toMatchObject({ DB_PORT: '5432', POSTGRES_SEEDS: 'postgresql', POSTGRES_USER: pg.POSTGRES_USER });
    expect(temporal.POSTGRES_PWD).toBe(pg.POSTGRES_PASSWORD);
    expect(environment('temporal-schema').SQL_PASSWORD).toBe(pg.POSTGRES_PASSWORD);
    expect(schemaScript()).toContain(`-u ${pg.POSTGRES_USER}`);
  });

  it('runs the Temporal server on the same configuration file as npm run cluster', () => {
    const temporal = environment('temporal');
    const mount = (service('temporal').volumes ?? []).map(String).find((volume) => volume.startsWith('./config/temporal:'));
    expect(mount, 'config/temporal mounted read-only').toMatch(/^\.\/config\/temporal:(\/etc\/temporal\/config\/hookline):ro$/);
    const inContainer = mount!.split(':')[1]!;
    expect(temporal.TEMPORAL_SERVER_CONFIG_FILE_PATH).toBe(`${inContainer}/${basename(SERVER_CONFIG_FILE)}`);
    expect(temporal.DYNAMIC_CONFIG_FILE_PATH).toBe(`${inContainer}/${basename(DYNAMIC_CONFIG_FILE)}`);
    expect(SERVER_CONFIG_FILE).toBe(join(ROOT, 'config/temporal/server.yaml'));

    // Both set only variables the template reads; the image's entrypoint adds BIND_ON_IP and
    // TEMPORAL_BROADCAST_ADDRESS, which it reads too.
    const template = read('config/temporal/server.yaml');
    expect(template.split('\n')[0]).toBe('# enable-template');
    const read_ = new Set([...template.matchAll(/env "([A-Z0-9_]+)"/g)].map((m) => m[1]));
    const serverOwn = ['TEMPORAL_SERVER_CONFIG_FILE_PATH', 'TEMPORAL_ALLOW_NO_AUTH'];
    for (const key of Object.keys(temporal).filter((k) => !serverOwn.includes(k))) expect(read_, `compose sets ${key}`).toContain(key);
    const cluster = serverEnv({
      databases: temporalDatabases({}),
      ports: serverPorts(7233),
      metricsAddress: '127.0.0.1:8000',
      sqlMaxConns: 5,
      sqlVisibilityMaxConns: 5,
    });
    for (const key of Object.keys(cluster)) expect(read_, `npm run cluster sets ${key}`).toContain(key);
    expect(read_).toContain('BIND_ON_IP');
    expect(read_).toContain('TEMPORAL_BROADCAST_ADDRESS');

    // The connection budget docs/production.md gives: a pool per service (4) per store, 48 in all.
    const poolDefault = (variable: string) =>
      Number(new RegExp(`maxConns: \\{\\{ default "(\\d+)" \\(env "${variable}"\\) \\}\\}`).exec(template)?.[1]);
    expect({ store: poolDefault('SQL_MAX_CONNS'), visibility: poolDefault('SQL_VIS_MAX_CONNS') }).toEqual({ store: 8, visibility: 4 });
  });

  it('migrates the schemas with the schemas built into temporal-sql-tool, as npm run cluster does', () => {
    const script = schemaScript();
    expect(script).toContain('temporal:postgresql/v12/temporal temporal_visibility:postgresql/v12/visibility');
    expect(script).toContain('--plugin postgres12 --ep postgresql -p 5432');
    expect(script).toContain('setup-schema -v 0.0');
    expect(script).toContain('update-schema --schema-name "$schema"');
    expect(temporalDatabases({})).toEqual({
      temporal: 'postgres://postgres@127.0.0.1:5432/temporal',
      visibility: 'postgres://postgres@127.0.0.1:5432/temporal_visibility',
    });
  });

  it('builds the worker and the receiver from the Dockerfile and runs the compiled entry points', () => {
    for (const name of ['worker', 'receiver'] as const) {
      const { build, command } = service(name);
      const context = typeof build === 'string' ? build : build?.context;
      const dockerfile = typeof build === 'object' && build.dockerfile ? build.dockerfile : 'Dockerfile';
      expect(context, `${name} build context`).toBe('.');
      expect(existsSync(join(ROOT, context!, dockerfile))).toBe(true);
      expect(command).toEqual(['node', ENTRYPOINTS[name]]);
    }
    const test = service('receiver').healthcheck?.test;
    expect(commandLine(test)).toContain(`http://127.0.0.1:${RECEIVER_ENV.PORT}/healthz`);
    expect(Array.isArray(test) && test[0] === 'CMD' && test[1] === 'node').toBe(true);
  });

  it('gives each service the environment the app requires, and only its own secrets', () => {
    const worker = environment('worker');
    const receiver = environment('receiver');

    for (const [name, env] of [
      ['worker', worker],
      ['receiver', receiver],
    ] as const) {
      for (const [key, value] of Object.entries(SHARED_ENV)) {
        expect(env[key], `${name} ${key}`).toBeDefined();
        expect(withEmptyEnvironment(env[key]!), `${name} ${key}`).toBe(value);
      }
    }
    for (const [key, value] of Object.entries(RECEIVER_ENV)) expect(receiver[key], key).toBe(value);
    for (const [key, value] of Object.entries(WORKER_ENV)) expect(withEmptyEnvironment(worker[key] ?? ''), key).toBe(value);

    const required = (env: Record<string, string>, key: string) =>
      expect(env[key], `${key} is required`).toMatch(new RegExp(`^\\$\\{${key}:\\?[^}]+\\}$`));
    for (const key of RECEIVER_REQUIRED) required(receiver, key);
    for (const key of WORKER_REQUIRED) required(worker, key);
    for (const key of WORKER_OPTIONAL) expect(worker[key], `${key} is optional`).toBe(`\${${key}:-}`);

    // Least privilege: the receiver holds no downstream credentials, the worker no webhook secrets.
    for (const key of [...WORKER_REQUIRED, ...WORKER_OPTIONAL]) expect(receiver, `receiver has ${key}`).not.toHaveProperty(key);
    for (const key of RECEIVER_REQUIRED) expect(worker, `worker has ${key}`).not.toHaveProperty(key);

    // The file requires exactly what these lists say, nowhere else.
    const strings = (value: unknown): string[] =>
      typeof value === 'string' ? [value] : value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];
    const requiredInFile = strings(compose).flatMap((value) => [...value.matchAll(/\$\{([A-Za-z0-9_]+):\?/g)].map((m) => m[1]));
    // Grafana's admin password too: a dashboard of every delivery is not left on admin/admin.
    expect(requiredInFile.sort()).toEqual([...RECEIVER_REQUIRED, ...WORKER_REQUIRED, 'GRAFANA_ADMIN_PASSWORD'].sort());
  });

  it('gives the worker and the receiver an environment their own config loaders accept', () => {
    // What the operator supplies for the `${X:?...}` variables.
    // A different secret per variable (the receiver refuses one shared by two sources), in base64
    // so that it is also a valid Standard Webhooks key.
    const supplied = (name: string) =>
      name.endsWith('_BASE_URL')
        ? `https://${name.toLowerCase()}.example.com`
        : Buffer.from(`${name}-supplied-by-the-operator`).toString('base64');
    const resolved = (name: string) =>
      Object.fromEntries(
        Object.entries(environment(name)).map(([key, value]) => [
          key,
          withEmptyEnvironment(value.replace(/\$\{([A-Za-z0-9_]+):\?[^}]*\}/g, (_m, variable: string) => supplied(variable))),
        ]),
      );

    const worker = loadWorkerConfig(resolved('worker'));
    expect(worker.temporal).toMatchObject({
      address: SHARED_ENV.TEMPORAL_ADDRESS,
      namespace: SHARED_ENV.TEMPORAL_NAMESPACE,
      taskQueue: SHARED_ENV.HOOKLINE_TASK_QUEUE,
    });
    expect(worker.databaseUrl).toBe(SHARED_ENV.DATABASE_URL);
    expect(worker.systems.payments.baseUrl).toBe(supplied('PAYMENTS_BASE_URL'));
    expect(worker.smtpUrl).toBeUndefined();
    // The SDK's metrics on every interface of the worker's container, for a scraper on the compose
    // network; exposed to other containers, never published on the host (see the ports test).
    expect(worker.metricsAddress).toBe('0.0.0.0:9464');
    expect((service('worker') as { expose?: (string | number)[] }).expose?.map(String)).toEqual(['9464']);

    const receiver = loadReceiverConfig(resolved('receiver'));
    expect(receiver).toMatchObject({ port: Number(RECEIVER_ENV.PORT), host: RECEIVER_ENV.HOST, tls: undefined });
    expect(environment('receiver').METRICS_TOKEN, 'METRICS_TOKEN is optional').toBe('${METRICS_TOKEN:-}');
    expect(receiver.temporal.address).toBe(SHARED_ENV.TEMPORAL_ADDRESS);
    for (const source of ['oms', 'crm', 'payments', 'carrier']) expect(receiver.sources.get(source)?.secrets, source).toHaveLength(1);
    // A privacy erasure reaches the receiver's spool and quarantined bodies: the worker finds the same database and scope.
    expect(worker.receiverStore).toEqual({
      url: receiver.spool.url,
      scope: `${receiver.temporal.namespace}/${receiver.temporal.taskQueue}`,
    });
  });

  it('registers all of hookline’s search attributes, with the types the code declares', () => {
    const script = setupScript().replace(/\\\n\s*/g, ' ');
    const create = /temporal operator search-attribute create ([^\n]*)/.exec(script)?.[1];
    expect(create, 'a search-attribute create command').toBeDefined();
    expect(create).toContain(`--namespace ${SHARED_ENV.TEMPORAL_NAMESPACE}`);
    expect(create).toContain(`--address ${SHARED_ENV.TEMPORAL_ADDRESS}`);
    const registered = Object.fromEntries([...create!.matchAll(/--name\s+(\S+)\s+--type\s+(\S+)/g)].map((m) => [m[1], m[2]]));
    expect(registered).toEqual(SEARCH_ATTRIBUTES);

    // workflows/contracts/search-attributes.ts is what the workflows upsert; the job must match it.
    const flags = searchAttributeFlags().filter((flag) => flag !== '--search-attribute');
    expect(Object.fromEntries(flags.map((flag) => flag.split('=')))).toEqual(SEARCH_ATTRIBUTES);
  });
});

describe('the temporal-setup script', () => {
  // Run it under /bin/sh with stand-ins for `temporal` and `sleep`, since Docker is not at hand.
  const run = (env: { DESCRIBE_FAILS?: number; CREATE_REPLIES?: string; NAMESPACE_EXISTS?: boolean }) => {
    const dir = mkdtempSync(join(tmpdir(), 'hookline-setup-'));
    try {
      writeFileSync(
        join(dir, 'temporal'),
        [
          '#!/bin/sh',
          'echo "$*" >> "$FAKE_DIR/calls"',
          'count() { n=$(cat "$FAKE_DIR/$1" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$FAKE_DIR/$1"; echo "$n"; }',
          'case "$2 $3" in',
          '  "namespace create")',
          '    if [ "$(count describe)" -gt "${DESCRIBE_FAILS:-0}" ]; then',
          '      [ -z "${NAMESPACE_EXISTS:-}" ] || { echo "Namespace already exists." >&2; exit 1; }',
          '    else echo "connection refused" >&2; exit 1; fi ;;',
          '  "search-attribute list") echo listed ;;',
          '  "search-attribute create")',
          '    reply=$(printf "%s" "${CREATE_REPLIES:-ok}" | cut -d "|" -f "$(count create)")',
          '    [ -n "$reply" ] || reply=$(printf "%s" "${CREATE_REPLIES:-ok}" | awk -F "|" "{print \\$NF}")',
          '    case "$reply" in fail:*) echo "${reply#fail:}" >&2; exit 1 ;; *) echo "Search attributes have been added" ;; esac ;;',
          '  *) echo "unexpected: $*" >&2; exit 2 ;;',
          'esac',
          '',
        ].join('\n'),
      );
      writeFileSync(join(dir, 'sleep'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(dir, 'temporal'), 0o755);
      chmodSync(join(dir, 'sleep'), 0o755);
      const result = spawnSync('/bin/sh', ['-c', setupScript()], {
        env: {
          PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          FAKE_DIR: dir,
          DESCRIBE_FAILS: String(env.DESCRIBE_FAILS ?? 0),
          NAMESPACE_EXISTS: env.NAMESPACE_EXISTS ? '1' : '',
          CREATE_REPLIES: env.CREATE_REPLIES ?? 'ok',
        },
        encoding: 'utf8',
      });
      const calls = existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : [];
      return { status: result.status, calls, creates: calls.filter((call) => call.includes('search-attribute create')) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('waits for the server to create the namespace, registers the attributes and exits 0', () => {
    const { status, calls, creates } = run({ DESCRIBE_FAILS: 3 });
    expect(status).toBe(0);
    expect(calls.filter((call) => call.includes('namespace create'))).toHaveLength(4);
    expect(calls[0]).toContain('--namespace default --retention 7d --address temporal:7233');
    expect(creates).toHaveLength(1);
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(creates[0]).toContain(`--name ${name} --type ${type}`);
    expect(calls.at(-1)).toContain('search-attribute list');
  });

  it('retries transient failures and accepts a namespace and attributes that already exist', () => {
    expect(run({ NAMESPACE_EXISTS: true })).toMatchObject({ status: 0, creates: [expect.any(String)] });
    expect(run({ CREATE_REPLIES: 'fail:connection refused|ok' })).toMatchObject({
      status: 0,
      creates: [expect.any(String), expect.any(String)],
    });
    expect(run({ CREATE_REPLIES: 'fail:search attribute HooklineSource already exists' }).status).toBe(0);
  });

  it('fails on a type conflict, a server that never answers, or one that keeps refusing', () => {
    expect(run({ CREATE_REPLIES: 'fail:search attribute HandoffPriority already exists and has different type Keyword' })).toMatchObject({
      status: 1,
      creates: [expect.any(String)],
    });
    expect(run({ DESCRIBE_FAILS: 1000 })).toMatchObject({ status: 1, creates: [] });
    const refusing = run({ CREATE_REPLIES: 'fail:connection refused' });
    expect(refusing.status).toBe(1);
    expect(refusing.creates).toHaveLength(30);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages(read('Dockerfile'));
  const build = stages[0]!;
  const runtime = stages.at(-1)!;
  const runs = (stage: typeof build) =>
    stage.instructions
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' && ');

  it('builds on node:20-bookworm-slim in two stages', () => {
    expect(stages).toHaveLength(2);
    for (const stage of stages) expect(stage.from).toBe('node:20-bookworm-slim');
    expect(build.name).toBeDefined();
  });

  it('compiles with the native-module toolchain, then drops dev dependencies', () => {
    const commands = runs(build);
    expect(commands).toMatch(/apt-get install [^&]*\bpython3\b/);
    expect(commands).toMatch(/apt-get install [^&]*\bmake\b/);
    expect(commands).toMatch(/apt-get install [^&]*\bg\+\+/);
    expect(commands).toContain('npm ci');
    // The same build as outside Docker: scripts/build.ts (tsc, inbox pages, prebuilt workflow bundle).
    expect(commands).toContain('npm run build');
    expect(commands).toContain('npm prune --omit=dev');
    expect(commands.indexOf('npm ci')).toBeLessThan(commands.indexOf('npm run build'));
    expect(commands.indexOf('npm run build')).toBeLessThan(commands.indexOf('npm prune'));
  });

  it('ships production dependencies and dist, running as node with NODE_ENV=production', () => {
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const path of ['node_modules', 'dist', 'package.json']) {
      expect(
        copies.some((args) => args.startsWith(`--from=${build.name} /app/${path} `)),
        `copies ${path}`,
      ).toBe(true);
    }
    expect(runtime.instructions).toContainEqual({ op: 'ENV', args: 'NODE_ENV=production' });
    const users = runtime.instructions.filter((i) => i.op === 'USER');
    expect(users.at(-1)?.args).toBe('node');
    const cmd = runtime.instructions.filter((i) => i.op === 'CMD').at(-1);
    expect(JSON.parse(cmd!.args)).toEqual(['node', ENTRYPOINTS.receiver]);
  });

  it('compiles src, workflows and activities into dist/ keeping their paths', () => {
    const config = JSON.parse(read('tsconfig.build.json')) as {
      extends: string;
      compilerOptions: Record<string, unknown>;
      include: string[];
      exclude: string[];
    };
    expect(config.extends).toBe('./tsconfig.json');
    expect(config.compilerOptions).toMatchObject({ noEmit: false, outDir: 'dist', rootDir: '.' });
    expect(config.include.sort()).toEqual(['activities', 'src', 'workflows']);
    expect(config.exclude).toContain('test');

    // So every entry point compose or the Dockerfile runs is the output of an included source file.
    for (const entry of Object.values(ENTRYPOINTS)) {
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(config.include).toContain(source.split('/')[0]);
    }
  });

  it('has the entry points’ sources in the repo (src/worker/main.ts, src/receiver/main.ts)', () => {
    for (const entry of Object.values(ENTRYPOINTS)) {
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
    }
  });

  it('keeps secrets and build output out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['.git', 'node_modules', 'dist', '.env', '.env.*', '.data']) expect(ignored, entry).toContain(entry);
  });
});
