import { z } from 'zod';
import { ROLES } from '../../policy/identity/access';
import { ACTION_ROLES } from '../../policy/identity/access';
import type { ApiRoute } from './route';

/**
 * /openapi.json, from the same zod schemas that parse the requests, so the description cannot drift
 * from what the API accepts. Each operation says the role it needs.
 */
export function describeApi(routes: readonly ApiRoute[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: describeOperation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'pkg-pipeline control plane',
      version: '1',
      description: `Bearer tokens (pkgctl token create) or OIDC JWTs. Roles per env: ${ROLES.join(', ')}.`,
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}

function describeOperation(route: ApiRoute) {
  const role = ACTION_ROLES[route.action];
  return {
    summary: route.summary,
    description: `Action ${route.action}: needs role ${role} (or admin) in the envs it touches.`,
    operationId: `${route.method.toLowerCase()}${route.url.replace(/[/:]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
    parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body) } } } }
      : {}),
    responses: {
      '200': { description: 'the result, as pkgctl --json prints it' },
      '400': { description: 'bad input: {outcome: "error", type: "InputInvalid", message}' },
      '401': { description: 'missing, invalid, expired or revoked credentials' },
      '403': { description: 'the identity lacks the role; the message names the role needed' },
    },
  };
}

function parameters(schema: z.ZodType, where: 'path' | 'query') {
  const json = schemaOf(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
  }));
}

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return json;
}
