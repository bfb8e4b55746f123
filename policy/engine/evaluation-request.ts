import { z } from 'zod';
import type { EvaluationInput, Mode } from './evaluation';
import { envSchema, type Lane } from '../lane';
import { embeddingProblem } from '../cortex/embedding';
import { semanticContextSchema } from '../cortex/semantic-context';

/**
 * The body of `POST /v1/evaluate` and the evaluation input of ARCHITECTURE.md §4. CONTROL is closed-world:
 * an unknown key in the request or at the input's top level is refused, because a caller who
 * misspells `facts` must not silently get a decision made without them. ADVISORY drops unknown
 * keys and decides on what it understood. Wrong types are refused in both modes.
 */
export const MODES = ['control', 'advisory'] as const satisfies readonly Mode[];

export interface EvaluationRequest {
  input: EvaluationInput;
  mode: Mode;
  routingKey?: string;
  lane: Partial<Lane>;
  /** ADVISORY only: the task's embedding, whose nearest memories become `input.semantic_context`. */
  embedding?: number[];
}

const LIST_LIMIT = 1000;
const lanePart = z.string().min(1, 'must not be empty').max(200, 'at most 200 characters');

const CONTROL_SEMANTIC = 'CONTROL is closed-world and never uses semantic context; send mode "advisory"';

/**
 * `semantic_context` is an input field where the decision may use memory: ADVISORY (hydrated or
 * pinned by the caller) and fixtures (pinned). CONTROL never hydrates, so there it is an unknown key.
 */
const inputFields = (closed: boolean, semantic: boolean) => {
  const object = closed ? z.strictObject : z.object;
  const fact = object({ predicate: z.string().min(1, 'must not be empty'), object: z.unknown().optional() });
  return object({
    tags: z.array(z.string()).max(LIST_LIMIT).optional(),
    signals: z.record(z.string(), z.number()).optional(),
    context: z.looseObject({ subject: z.string().optional(), domain: z.string().optional() }).optional(),
    facts: z.array(fact).max(LIST_LIMIT).optional(),
    semantic_context: (semantic ? semanticContextSchema : z.never({ error: CONTROL_SEMANTIC })).optional(),
  });
};

const embedding = z.array(z.number()).superRefine((vector, ctx) => {
  const problem = embeddingProblem(vector);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const requestSchema = (closed: boolean) => {
  const object = closed ? z.strictObject : z.object;
  return object({
    input: inputFields(closed, !closed),
    routing_key: z.string().min(1, 'must not be empty').max(512).optional(),
    env: envSchema.optional(),
    target: lanePart.optional(),
    region: lanePart.optional(),
    mode: z.string().optional(),
    embedding: (closed ? z.never() : embedding).optional(),
  });
};

const controlRequest = requestSchema(true);
const advisoryRequest = requestSchema(false);
export const controlInputSchema = inputFields(true, false);
export const advisoryInputSchema = inputFields(false, true);
/** A fixture's input: CONTROL's closed world, plus a pinned semantic context. */
export const fixtureInputSchema = inputFields(true, true);

const CONTROL_EMBEDDING =
  'embedding: CONTROL is closed-world and never hydrates semantic context (deny by default); send mode "advisory" to use it';

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Reads the mode first, since it decides how strictly the rest is read; CONTROL when absent. */
export function parseEvaluationRequest(body: unknown): ParseResult<EvaluationRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, reason: 'body: expected a JSON object with an "input" field' };
  }
  const rawMode = (body as { mode?: unknown }).mode ?? 'control';
  const mode = typeof rawMode === 'string' ? rawMode.toLowerCase() : rawMode;
  if (mode !== 'control' && mode !== 'advisory') {
    return { ok: false, reason: `mode: expected "control" or "advisory", got ${JSON.stringify(rawMode)}` };
  }
  if (mode === 'control' && 'embedding' in body) return { ok: false, reason: CONTROL_EMBEDDING };
  const parsed = (mode === 'control' ? controlRequest : advisoryRequest).safeParse(body);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error.issues) };
  const { input, routing_key, env, target, region } = parsed.data;
  const request: EvaluationRequest = { input, mode, routingKey: routing_key, lane: { env, target, region } };
  if (parsed.data.embedding) request.embedding = parsed.data.embedding;
  return { ok: true, value: request };
}

/** One input alone (batch evaluation, fixtures), read as strictly as the mode says. */
export function parseEvaluationInput(input: unknown, mode: Mode): ParseResult<EvaluationInput> {
  const parsed = (mode === 'control' ? controlInputSchema : advisoryInputSchema).safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, reason: describeIssues(parsed.error.issues, 'input') };
}

/** A request's routing key: the explicit one, else the subject, so a guest sticks to one version. */
export function routingKeyOf(request: Pick<EvaluationRequest, 'input' | 'routingKey'>): string | undefined {
  const subject = request.input.context?.subject;
  return request.routingKey ?? (typeof subject === 'string' ? subject : undefined);
}

/** One line for the caller: the first few problems, each as path: message. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], root?: string): string {
  const shown = issues.slice(0, 3).map((issue) => {
    const path = [root, ...issue.path.map(String)].filter((part) => part !== undefined).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
    return `${path || 'body'}: ${message}`;
  });
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : '';
  return `${shown.join('; ')}${more}`.replace(/\s*\n\s*/g, ' ');
}
