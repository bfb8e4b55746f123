import { z } from 'zod';
import {
  CONDITION_TYPES,
  NUMERIC_OPERATORS,
  OPERATORS,
  RELATIONSHIPS,
  AFTER_PARAM,
  type Operator,
} from '../engine/compiled-snapshot';
import { fixtureInputSchema } from '../engine/evaluation-request';
import { ENVS } from '../lane';
import { rolloutOverridesSchema } from '../rollout/config';
import { regexProblem } from './regex';

/**
 * The files of ARCHITECTURE.md §3 as zod schemas. Unknown keys are refused everywhere (a misspelt
 * `priorty` must not silently become priority 0). Cross-file rules (declared subtasks, unique
 * names, ORDERS cycles) live in bundle-checks.ts.
 */
export const VERSION_PATTERN = /^[a-z0-9][a-z0-9_.-]*@[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const KEY_SEGMENT = /^[^.\s]+$/;

const name = (what: string) =>
  z.string().regex(NAME, `${what} must be letters, digits, _ or - (starting with a letter or _)`);
const listOf = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');
const jsonObject = z.record(z.string(), z.json());

export const manifestSchema = z.strictObject({
  version: z
    .string({ error: 'version is required' })
    .regex(VERSION_PATTERN, 'version must be name@semver, e.g. hotel-ops@1.0.0'),
  env: z.enum(ENVS, { error: (issue) => `unknown env ${JSON.stringify(issue.input)} (expected ${listOf(ENVS)})` }),
  engine: z.enum(['native', 'wasm'], {
    error: (issue) => `unknown engine ${JSON.stringify(issue.input)} (expected "native", "wasm")`,
  }),
  entrypoint: z
    .string()
    .regex(/^pkg(\/[A-Za-z_][A-Za-z0-9_]*)+$/, 'entrypoint must be a path under pkg, e.g. pkg/result')
    .default('pkg/result'),
  schema_version: z.union([z.literal('1'), z.literal(1)], { error: 'schema_version must be "1"' }).transform(() => '1'),
  notes: z.string().optional(),
  rollout: rolloutOverridesSchema.optional(),
});

const conditionSchema = z
  .strictObject({
    type: z.enum(CONDITION_TYPES, {
      error: (i) => `unknown condition type ${JSON.stringify(i.input)} (expected ${listOf(CONDITION_TYPES)})`,
    }),
    key: z.string().min(1, 'key must not be empty'),
    op: z
      .enum(OPERATORS, { error: (i) => `unknown operator ${JSON.stringify(i.input)} (expected ${listOf(OPERATORS)})` })
      .default('EXISTS'),
    value: z
      .union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))])
      .optional(),
  })
  .superRefine((condition, ctx) => {
    for (const message of conditionProblems(condition)) ctx.addIssue({ code: 'custom', message });
  });

/** What makes a condition meaningless even though each field is well-typed. */
function conditionProblems(c: { type: string; key: string; op: Operator; value?: unknown }): string[] {
  const problems: string[] = [];
  const value = c.value;
  if (!c.key.split('.').every((segment) => KEY_SEGMENT.test(segment)))
    problems.push(`key "${c.key}" has an empty or blank path segment`);
  if (c.type === 'TAG' && c.op !== 'EXISTS') problems.push(`TAG only supports EXISTS, not ${c.op}`);
  if (c.type === 'VALUE' && !c.key.startsWith('context.') && !c.key.startsWith('semantic_context.'))
    problems.push(
      `VALUE key must be a dotted path into context or semantic_context, e.g. context.domain (got "${c.key}")`,
    );
  if (c.type === 'SIGNAL' && c.op === 'MATCHES')
    problems.push('SIGNAL values are numbers; MATCHES needs a string value');
  if (c.op === 'EXISTS' && value !== undefined) problems.push('EXISTS takes no value');
  if (c.op !== 'EXISTS' && value === undefined) problems.push(`${c.op} needs a value`);
  if (value === undefined || c.op === 'EXISTS') return problems;
  if (c.op === 'IN' && !Array.isArray(value)) problems.push(`IN needs a list value, got ${JSON.stringify(value)}`);
  if (c.op === 'IN' && Array.isArray(value) && value.length === 0) problems.push('IN needs a non-empty list');
  if (c.op !== 'IN' && Array.isArray(value)) problems.push(`${c.op} needs a single value, not a list`);
  if (NUMERIC_OPERATORS.includes(c.op) && typeof value !== 'number')
    problems.push(`numeric operator ${c.op} needs a number, got ${JSON.stringify(value)}`);
  if (c.op === 'MATCHES')
    problems.push(
      ...(typeof value === 'string'
        ? regexProblem(value)
        : [`MATCHES needs a regex string, got ${JSON.stringify(value)}`]),
    );
  if (c.type === 'SIGNAL' && !NUMERIC_OPERATORS.includes(c.op) && [value].flat().some((v) => typeof v !== 'number'))
    problems.push(`SIGNAL values are numbers, got ${JSON.stringify(value)}`);
  return problems;
}

const emissionSchema = z
  .strictObject({
    subtask: name('subtask'),
    relationship: z
      .enum(RELATIONSHIPS, {
        error: (i) => `unknown relationship ${JSON.stringify(i.input)} (expected ${listOf(RELATIONSHIPS)})`,
      })
      .default('EMITS'),
    params: jsonObject.default({}),
  })
  .superRefine((emission, ctx) => {
    const after = emission.params[AFTER_PARAM];
    if (emission.relationship !== 'EMITS' && typeof after !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['params', AFTER_PARAM],
        message: `${emission.relationship} needs params.after naming the subtask it follows`,
      });
    }
  });

/**
 * A rule is switched off by `enabled: false` (ours) or `disabled: true` (the seed's word, as in
 * pkg_policy_rules.disabled); both may be written when they agree. The parsed rule has `enabled`.
 */
const ruleSchema = z
  .strictObject({
    name: name('rule name'),
    priority: z.number().int('priority must be an integer').min(-1_000_000).max(1_000_000).default(0),
    enabled: z.boolean().optional(),
    disabled: z.boolean().optional(),
    description: z.string().optional(),
    conditions: z.array(conditionSchema).default([]),
    emissions: z.array(emissionSchema).default([]),
  })
  .superRefine((rule, ctx) => {
    if (rule.enabled !== undefined && rule.disabled !== undefined && rule.enabled === rule.disabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['disabled'],
        message: `rule ${JSON.stringify(rule.name)} says enabled: ${rule.enabled} and disabled: ${rule.disabled}; keep one of them`,
      });
    }
  })
  .transform(({ disabled, enabled, ...rule }) => ({
    ...rule,
    enabled: disabled === undefined ? (enabled ?? true) : !disabled,
  }));

export const rulesFileSchema = z.strictObject({
  subtask_types: z.array(
    z.strictObject({
      name: name('subtask type name'),
      default_params: jsonObject.default({}),
      description: z.string().optional(),
    }),
  ),
  rules: z.array(ruleSchema).min(1, 'rules must not be empty: a snapshot needs at least one rule'),
});

const expectSchema = z.strictObject({
  subtasks: z.array(z.string()),
  ordered: z.boolean().default(false),
  rules: z.array(z.string()).optional(),
  not_subtasks: z.array(z.string()).optional(),
  dag: z.array(z.strictObject({ from: z.string(), to: z.string(), type: z.enum(['sequential', 'gate']) })).optional(),
  /** Per subtask, params that must hold exactly (other params are not compared). */
  params: z.record(z.string(), jsonObject).optional(),
});

export const fixtureSchema = z.strictObject({
  name: z.string().min(1, 'fixture name must not be empty'),
  description: z.string().optional(),
  input: fixtureInputSchema,
  expect: expectSchema,
});

/** A fixture file holds one fixture or a list of them. */
export const fixtureListSchema = z.array(fixtureSchema).min(1, 'a fixture file needs at least one fixture');

export type Manifest = z.output<typeof manifestSchema>;
export type RulesFile = z.output<typeof rulesFileSchema>;
export type Fixture = z.output<typeof fixtureSchema>;
export type FixtureExpectation = Fixture['expect'];
