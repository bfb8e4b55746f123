import { z } from 'zod';
import { envSchema } from '../lane';
import { ROLES, type Grant } from './access';
import type { ParseResult } from '../engine/evaluation-request';

/**
 * OIDC claims to roles (README "Identity and access"): each rule grants its role in its envs to a
 * JWT whose claims equal every one the rule names, e.g. GitHub Actions' `repository` and `ref`.
 * Claims are compared as exact strings: no patterns, so a rule means what it says.
 */
export const roleRulesSchema = z
  .array(
    z.strictObject({
      claims: z.record(z.string(), z.string()).refine((claims) => Object.keys(claims).length > 0, 'at least one claim'),
      role: z.enum(ROLES),
      envs: z.array(envSchema).min(1),
    }),
  )
  .min(1);
export type RoleRule = z.output<typeof roleRulesSchema>[number];

/** PKG_OIDC_ROLES, parsed; the reason names the first problem. */
export function parseRoleRules(text: string): ParseResult<RoleRule[]> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const parsed = roleRulesSchema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0]!;
  return { ok: false, reason: `${issue.path.join('.') || 'rules'}: ${issue.message}` };
}

export function grantsFromClaims(claims: Readonly<Record<string, unknown>>, rules: readonly RoleRule[]): Grant[] {
  return rules
    .filter((rule) => Object.entries(rule.claims).every(([name, value]) => claims[name] === value))
    .map(({ role, envs }) => ({ role, envs }));
}

/** What audit rows record for a JWT's holder. */
export const oidcSubject = (issuer: string, subject: string): string => `oidc:${issuer}#${subject}`;
