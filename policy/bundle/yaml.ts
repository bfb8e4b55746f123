import { LineCounter, parseDocument, isNode } from 'yaml';
import type { z } from 'zod';
import type { Problem } from '../errors';

/**
 * YAML parsing that keeps positions, so a schema problem can say "rules.yaml: rules[2].op (line
 * 14): ..." instead of leaving the author to count list items.
 */
export interface ParsedYaml {
  value: unknown;
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

export function parseYaml(file: string, text: string, problems: Problem[]): ParsedYaml | null {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const line = lineCounter.linePos(error.pos[0]).line;
      problems.push({ file, path: line ? `line ${line}` : undefined, message: `malformed YAML: ${error.message}` });
    }
    return null;
  }
  return {
    value: document.toJS({ maxAliasCount: 100 }),
    lineOf(path) {
      const node = document.getIn(path as unknown[], true);
      const offset = isNode(node) ? node.range?.[0] : undefined;
      return offset === undefined ? undefined : lineCounter.linePos(offset).line;
    },
  };
}

/** `['rules', 2, 'op']` → `rules[2].op`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`)).join('');
}

export function locate(
  file: string,
  parsed: ParsedYaml | null,
  path: readonly PropertyKey[],
  message: string,
): Problem {
  const line = parsed?.lineOf(path) ?? (path.length > 1 ? parsed?.lineOf(path.slice(0, -1)) : undefined);
  const where = [formatPath(path), line ? `(line ${line})` : ''].filter(Boolean).join(' ');
  return { file, path: where || undefined, message };
}

/** Validates with a schema; every issue becomes a located problem. */
export function validate<S extends z.ZodType>(
  schema: S,
  file: string,
  parsed: ParsedYaml,
  problems: Problem[],
  base: PropertyKey[] = [],
): z.output<S> | null {
  const result = schema.safeParse(parsed.value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const message = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
    problems.push(locate(file, parsed, [...base, ...issue.path], message));
  }
  return null;
}
