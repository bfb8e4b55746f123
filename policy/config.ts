import { z } from 'zod';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { envSchema, type Env } from './lane';
import { PIPELINE_TASK_QUEUE } from './constants';
import type { ParseResult } from './engine/evaluation-request';
import { parseMaskPaths } from './decision-log/masking';
import { parseDecisionLogSampling } from './decision-log/sampling';
import { parseRoleRules } from './identity/claims';

/**
 * Process configuration from environment variables. Every address has a working default that
 * matches what `npm run up` starts, so a fresh clone needs no setup; production points the same
 * variables at real servers.
 */
const root = path.resolve(__dirname, '..');

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

const urlList = z.string().refine(
  (value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .every((item) => url(['http:', 'https:']).safeParse(item).success),
  'a comma list of http:// or https:// URLs',
);

const hostPort = z.string().regex(/^[^\s:/]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:7233');
const port = z.coerce
  .number({ error: 'a port number 1-65535' })
  .int('a port number 1-65535')
  .min(1, 'a port number 1-65535')
  .max(65535, 'a port number 1-65535');

/** A variable read by a domain parser; its reason follows what was expected. */
const parsedWith = <T>(parse: (text: string) => ParseResult<T>, expected: string) =>
  z.string().transform((text, ctx) => {
    const parsed = parse(text);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: 'custom', message: `${expected} (${parsed.reason})` });
    return z.NEVER;
  });

const maskPaths = parsedWith(parseMaskPaths, 'a comma list of dotted input paths, e.g. context.subject,facts.object');

/** A comma list of envs, or `none`. */
const envList = z
  .string()
  .regex(/^(none|((prod|staging|dev)(,(prod|staging|dev))*))$/, 'a comma list of prod, staging, dev, or none')
  .transform((text) => (text === 'none' ? [] : [...new Set(text.split(',').map((env) => envSchema.parse(env)))]));

export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://pkg:pkg@127.0.0.1:55432/pkg'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:56379'),
  TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1, 'a namespace name').default('default'),
  TEMPORAL_UI_URL: url(['http:', 'https:']).default('http://localhost:8233'),
  TEMPORAL_TLS_CERT: z.string().min(1).optional(),
  TEMPORAL_TLS_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS_CA: z.string().min(1).optional(),
  OPA_PATH: z
    .string()
    .min(1)
    .default(path.join(root, '.tools', 'bin', 'opa')),
  EVALUATOR_PORT: port.default(8181),
  // The lane an evaluator serves when a request names none; requests may name another lane.
  EVALUATOR_ENV: envSchema.default('dev'),
  EVALUATOR_TARGET: z.string().min(1, 'a non-empty target').default('default'),
  EVALUATOR_REGION: z.string().min(1, 'a non-empty region').default('default'),
  EVALUATOR_HOST: z.string().min(1).default('127.0.0.1'),
  // Upper bound on how stale a subject's cached facts may be when a request supplies none.
  FACT_CACHE_TTL_MS: z.coerce.number({ error: 'milliseconds' }).int().min(0).default(5000),
  FACT_CACHE_MAX: z.coerce.number({ error: 'a count' }).int().min(1).default(10000),
  // Share of canary-lane requests also evaluated on the other version to measure divergence.
  EVALUATOR_SHADOW_RATE: z.coerce.number({ error: 'a fraction 0..1' }).min(0).max(1).default(0.1),
  EVALUATOR_RECONCILE_MS: z.coerce.number({ error: 'milliseconds' }).int().min(100).default(10000),
  EVALUATOR_HEARTBEAT_MS: z.coerce.number({ error: 'milliseconds' }).int().min(100).default(3000),
  EVALUATOR_LOADED_MAX: z.coerce.number({ error: 'a count' }).int().min(2).default(8),
  EVALUATOR_BODY_LIMIT: z.coerce.number({ error: 'bytes' }).int().min(1024).default(262144),
  // One process per core by default: a Node process decides on one core (worker/evaluator/processes.ts).
  EVALUATOR_WORKERS: z.coerce.number({ error: 'a count' }).int().min(1).max(256).default(availableParallelism()),
  EVALUATOR_TEMPORAL: z.enum(['on', 'off'], { error: 'on or off' }).default('on'),
  // Evaluator keys (README "Evaluator keys"): whether POST /v1/evaluate needs a key on every lane
  // (true), none (false) or, unset, on the lanes of the listed envs; how often each process rereads
  // the keys (the backstop of the revocation announcement: revocation must reach it within 5 s).
  EVALUATOR_REQUIRE_KEYS: z
    .enum(['true', 'false'], { error: 'true or false' })
    .transform((value) => value === 'true')
    .optional(),
  EVALUATOR_KEYS_REQUIRED_ENVS: z
    .string()
    .regex(/^(none|((prod|staging|dev)(,(prod|staging|dev))*))$/, 'a comma list of prod, staging, dev, or none')
    .default('prod')
    .transform((value) => (value === 'none' ? [] : [...new Set(value.split(','))]) as Env[]),
  EVALUATOR_KEYS_REFRESH_MS: z.coerce.number({ error: 'milliseconds' }).int().min(100).max(4000).default(2000),
  // Decision logs (README "Decision logs"): the share of each lane's decisions logged, the input
  // fields hashed or dropped before an entry leaves the process, the salt of those hashes, the
  // buffer bound (entries beyond it are dropped and counted), the flush period, and how many days
  // of partitions the retention schedule keeps.
  DECISION_LOG_SAMPLE: parsedWith(
    parseDecisionLogSampling,
    'a default rate 0..1 and env/target/region=rate overrides, e.g. 0.1,prod/web/eu=1',
  ).prefault('0'),
  DECISION_LOG_MASK_HASH: maskPaths.prefault('context.subject'),
  DECISION_LOG_MASK_DROP: maskPaths.prefault(''),
  DECISION_LOG_MASK_SALT: z.string().min(1, 'a non-empty salt').optional(),
  DECISION_LOG_BUFFER: z.coerce.number({ error: 'a count' }).int().min(1).max(1_000_000).default(10_000),
  DECISION_LOG_FLUSH_MS: z.coerce.number({ error: 'milliseconds' }).int().min(10).default(1000),
  DECISION_LOG_RETENTION_DAYS: z.coerce.number({ error: 'whole days' }).int().min(1).default(7),
  // Semantic memory (README "Semantic memory"): an ADVISORY request's embedding is looked up in the
  // Unified Cortex within this budget; the nearest CORTEX_TOP_K memories at least
  // CORTEX_MIN_SIMILARITY similar become its semantic_context, cached by embedding for CORTEX_CACHE_TTL_MS.
  CORTEX_HYDRATION_BUDGET_MS: z.coerce.number({ error: 'milliseconds' }).int().min(1).default(20),
  CORTEX_TOP_K: z.coerce.number({ error: 'a count 1-100' }).int().min(1).max(100).default(5),
  CORTEX_MIN_SIMILARITY: z.coerce.number({ error: 'a similarity -1..1' }).min(-1).max(1).default(0.8),
  CORTEX_CACHE_TTL_MS: z.coerce.number({ error: 'milliseconds' }).int().min(1).default(60_000),
  CORTEX_CACHE_MAX: z.coerce.number({ error: 'a count' }).int().min(1).default(10_000),
  METRICS_TTL_S: z.coerce.number({ error: 'seconds' }).int().min(60).default(86400),
  // Pipeline worker: its task queue (tests isolate with their own), decision-record signing key
  // (PEM of an Ed25519 private key; unsigned records without it), outbox poll period, and how long
  // a gate waits for the evaluators' last metrics flush before reading.
  PIPELINE_TASK_QUEUE: z.string().min(1, 'a task queue name').default(PIPELINE_TASK_QUEUE),
  DECISION_SIGNING_KEY: z.string().min(1).optional(),
  OUTBOX_RELAY_MS: z.coerce.number({ error: 'milliseconds' }).int().min(10).default(100),
  GATE_SETTLE_MS: z.coerce.number({ error: 'milliseconds' }).int().min(0).default(1500),
  // Prometheus that metric gates (rollout.analysis) query; the pipeline worker keeps its evaluator
  // targets file current (file-based discovery) and serves its own /metrics (port 0: none).
  PROMETHEUS_URL: url(['http:', 'https:']).default('http://127.0.0.1:9090'),
  PROMETHEUS_TARGETS_FILE: z
    .string()
    .min(1)
    .default(path.join(root, '.data', 'prometheus', 'targets', 'evaluators.json')),
  PIPELINE_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  PIPELINE_METRICS_PORT: z.coerce
    .number({ error: 'a port number 0-65535' })
    .int('a port number 0-65535')
    .min(0, 'a port number 0-65535')
    .max(65535, 'a port number 0-65535')
    .default(9464),
  // Webhooks and notifications (README "Webhooks and notifications"): the HMAC secret that signs
  // rollout webhook calls and notification deliveries (never in a bundle), the sinks told of every
  // rollout event (comma lists of URLs; a generic JSON webhook, a Slack-compatible incoming
  // webhook), and the notifier's poll period.
  PKG_WEBHOOK_SECRET: z.string().min(16, 'a secret of at least 16 characters').optional(),
  PKG_NOTIFY_WEBHOOK_URLS: urlList.optional(),
  PKG_NOTIFY_SLACK_URLS: urlList.optional(),
  NOTIFY_MS: z.coerce.number({ error: 'milliseconds' }).int().min(10).default(500),
  // Bundle signatures: the Ed25519 public key (PEM text or a path to a PEM file) that verifies
  // .signatures.json, and the envs that refuse unsigned bundles (comma list; "prod" by default
  // when a key is configured, none otherwise; "none" to require none).
  PKG_SIGNING_PUBLIC_KEY: z.string().min(1).optional(),
  // More trusted keys, for rotation: a comma list of PEM texts or paths. Snapshots keep the key id
  // that signed them; evaluators check the signature again at load against these keys.
  PKG_TRUSTED_KEYS: z.string().min(1).optional(),
  PKG_SIGNED_ENVS: z
    .string()
    .regex(/^(none|((prod|staging|dev)(,(prod|staging|dev))*))$/, 'a comma list of prod, staging, dev, or none')
    .optional(),
  // Control-plane API (README "Identity and access"): where it listens, and the envs where the
  // identity that started a rollout may not approve its steps (separation of duties). pkgctl goes
  // through the API when both PKG_API_URL and PKG_TOKEN are set (a CI job needs nothing else).
  PKG_API_HOST: z.string().min(1).default('127.0.0.1'),
  PKG_API_PORT: port.default(8480),
  PKG_SEPARATED_ENVS: envList.prefault('prod'),
  // Pipeline worker: envs where resume and approve must come through the API (a verified identity);
  // pause and rollback, which only reduce exposure, are honoured from anyone.
  PKG_VERIFIED_ENVS: envList.prefault('prod'),
  PKG_API_URL: url(['http:', 'https:']).optional(),
  PKG_TOKEN: z.string().min(1).optional(),
  // OIDC JWTs (e.g. GitHub Actions' id tokens) verified against the issuer's JWKS, for the audience
  // given, and mapped to roles by PKG_OIDC_ROLES: JSON rules [{claims, role, envs}] (policy/identity/claims.ts).
  PKG_OIDC_ISSUER: z.string().min(1).optional(),
  PKG_OIDC_JWKS_URL: url(['http:', 'https:']).optional(),
  PKG_OIDC_AUDIENCE: z.string().min(1).optional(),
  PKG_OIDC_ROLES: parsedWith(
    parseRoleRules,
    'JSON rules like [{"claims":{"repository":"org/repo"},"role":"deployer","envs":["prod"]}]',
  ).optional(),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; the error names each bad variable, what it held and what was expected. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0]);
    const held = env[name] === undefined ? 'unset' : JSON.stringify(env[name]);
    return `${name}=${held}: expected ${issue.message}`;
  });
  throw new ConfigError(`bad configuration: ${problems.join('; ')}`);
}

/** For process entry points: one clear line and exit 1 instead of a stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}
