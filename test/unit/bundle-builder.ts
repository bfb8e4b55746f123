import type { BundleFiles } from '../../policy/bundle/bundle';
import type { Problem } from '../../policy/errors';

/** Small in-memory bundles for unit tests: a valid base, with files replaced or removed per test. */
export const MANIFEST = [
  'version: test-policy@1.0.0',
  'env: dev',
  'engine: native',
  'entrypoint: pkg/result',
  'schema_version: "1"',
  '',
].join('\n');

export const RULES = `subtask_types:
  - name: escalate
    default_params: { level: normal }
  - name: notify
rules:
  - name: vip
    priority: 10
    conditions:
      - { type: TAG, key: vip }
      - { type: SIGNAL, key: x2, op: ">=", value: 0.7 }
    emissions:
      - { subtask: escalate, params: { level: high } }
      - { subtask: notify, relationship: ORDERS, params: { after: escalate } }
`;

export const FIXTURE = `name: vip_gets_escalated
input: { tags: [vip], signals: { x2: 0.8 } }
expect:
  subtasks: [escalate, notify]
  rules: [vip]
`;

export function bundleFiles(changes: Record<string, string | null> = {}): BundleFiles {
  const base: Record<string, string | null> = {
    'manifest.yaml': MANIFEST,
    'rules.yaml': RULES,
    'fixtures/vip.yaml': FIXTURE,
    ...changes,
  };
  return new Map(
    Object.entries(base).flatMap(([file, text]) =>
      text === null ? [] : [[file, Buffer.from(text)] as [string, Buffer]],
    ),
  );
}

export function describeProblems(problems: readonly Problem[]): string[] {
  return problems.map((p) => `${p.file ?? ''}|${p.path ?? ''}|${p.message}`);
}
