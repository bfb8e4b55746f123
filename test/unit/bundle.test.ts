import { loadBundle } from '../../policy/bundle/bundle';
import { BUNDLE_LIMITS } from '../../policy/bundle/limits';
import { bundleFiles, describeProblems, RULES, MANIFEST } from './bundle-builder';
import { pkgErrorOf } from '../support/pkg-error';

const invalid = (changes: Record<string, string | null>) => {
  const error = pkgErrorOf(() => loadBundle(bundleFiles(changes)));
  return { type: error.type, problems: describeProblems(error.problems), message: error.message };
};

const rulesWith = (condition: string) => RULES.replace('- { type: SIGNAL, key: x2, op: ">=", value: 0.7 }', condition);

describe('loadBundle', () => {
  it('loads a valid bundle with checksums and fixtures', () => {
    const bundle = loadBundle(bundleFiles());
    expect(bundle.manifest.version).toBe('test-policy@1.0.0');
    expect(bundle.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(bundle.fileChecksums)).toEqual(['fixtures/vip.yaml', 'manifest.yaml', 'rules.yaml']);
    expect(bundle.fixtures.map((f) => f.name)).toEqual(['vip_gets_escalated']);
  });

  it('gives the same checksum for the same content and another for a change', () => {
    expect(loadBundle(bundleFiles()).checksum).toBe(loadBundle(bundleFiles()).checksum);
    expect(loadBundle(bundleFiles({ 'rules.yaml': RULES.replace('priority: 10', 'priority: 11') })).checksum).not.toBe(
      loadBundle(bundleFiles()).checksum,
    );
  });

  it('refuses malformed YAML naming the file and line', () => {
    const { type, problems } = invalid({ 'rules.yaml': 'rules:\n  - name: [unclosed\n' });
    expect(type).toBe('BundleInvalid');
    expect(problems[0]).toMatch(/^rules\.yaml\|line \d+\|malformed YAML/);
  });

  it('refuses a bundle without manifest', () => {
    expect(invalid({ 'manifest.yaml': null }).problems).toEqual([
      'manifest.yaml||missing: every bundle needs a manifest.yaml',
    ]);
  });

  it('refuses a bad version string, with the line', () => {
    const { problems } = invalid({ 'manifest.yaml': MANIFEST.replace('test-policy@1.0.0', 'Test Policy v1') });
    expect(problems).toEqual(['manifest.yaml|version (line 1)|version must be name@semver, e.g. hotel-ops@1.0.0']);
  });

  it('refuses an unknown env and an unknown engine, both at once', () => {
    const { problems } = invalid({
      'manifest.yaml': MANIFEST.replace('env: dev', 'env: qa').replace('engine: native', 'engine: lua'),
    });
    expect(problems).toEqual([
      'manifest.yaml|env (line 2)|unknown env "qa" (expected "prod", "staging", "dev")',
      'manifest.yaml|engine (line 3)|unknown engine "lua" (expected "native", "wasm")',
    ]);
  });

  it('refuses an unknown condition type and an unknown operator', () => {
    const type = invalid({ 'rules.yaml': rulesWith('- { type: WEATHER, key: rain }') });
    expect(type.problems).toEqual([
      expect.stringMatching(
        /^rules\.yaml\|rules\[0\]\.conditions\[1\]\.type \(line 10\)\|unknown condition type "WEATHER"/,
      ),
    ]);
    const op = invalid({ 'rules.yaml': rulesWith('- { type: SIGNAL, key: x2, op: "~=", value: 1 }') });
    expect(op.problems).toEqual([
      expect.stringMatching(/^rules\.yaml\|rules\[0\]\.conditions\[1\]\.op \(line 10\)\|unknown operator "~="/),
    ]);
  });

  it.each([
    [
      'IN with a non-list',
      '- { type: VALUE, key: context.room, op: IN, value: suite }',
      'IN needs a list value, got "suite"',
    ],
    [
      'MATCHES with an invalid regex',
      '- { type: VALUE, key: context.room, op: MATCHES, value: "suite-(" }',
      'MATCHES has an invalid regex "suite-("',
    ],
    ['MATCHES with lookahead', '- { type: VALUE, key: context.room, op: MATCHES, value: "^(?=s)" }', 'lookaround'],
    [
      'a numeric operator on a string',
      '- { type: SIGNAL, key: x2, op: ">=", value: high }',
      'numeric operator >= needs a number, got "high"',
    ],
    [
      'a VALUE key outside context',
      '- { type: VALUE, key: domain, op: "=", value: x }',
      'VALUE key must be a dotted path into context',
    ],
    ['EXISTS with a value', '- { type: FACT, key: hasAccess, op: EXISTS, value: 1 }', 'EXISTS takes no value'],
    ['TAG with a comparison', '- { type: TAG, key: vip, op: "=", value: yes }', 'TAG only supports EXISTS'],
  ])('refuses %s, naming the condition', (_, condition, message) => {
    const { problems } = invalid({ 'rules.yaml': rulesWith(condition) });
    expect(problems).toEqual([expect.stringContaining(message)]);
    expect(problems[0]).toMatch(/^rules\.yaml\|rules\[0\]\.conditions\[1\] \(line 10\)\|/);
  });

  it('refuses the emission of an undeclared subtask type', () => {
    const { problems } = invalid({
      'rules.yaml': RULES.replace('- { subtask: escalate, params', '- { subtask: page_ceo, params'),
    });
    expect(problems).toContainEqual(
      expect.stringMatching(
        /^rules\.yaml\|rules\[0\]\.emissions\[0\]\.subtask \(line \d+\)\|emits undeclared subtask type "page_ceo"/,
      ),
    );
  });

  it('refuses duplicate rule names', () => {
    const twice = `${RULES}  - name: vip\n    emissions: [{ subtask: notify }]\n`;
    expect(invalid({ 'rules.yaml': twice }).problems).toEqual([
      'rules.yaml|rules[1].name (line 14)|duplicate rule name "vip"',
    ]);
  });

  it('refuses an ORDERS cycle, showing it', () => {
    const cycle = `${RULES}  - name: back\n    emissions: [{ subtask: escalate, relationship: ORDERS, params: { after: notify } }]\n`;
    expect(invalid({ 'rules.yaml': cycle }).problems).toEqual([
      expect.stringMatching(/ORDERS\/GATE cycle: (escalate → notify → escalate|notify → escalate → notify)$/),
    ]);
  });

  it('refuses ORDERS without params.after', () => {
    const { problems } = invalid({ 'rules.yaml': RULES.replace('params: { after: escalate }', 'params: {}') });
    expect(problems).toEqual([
      expect.stringMatching(/^rules\.yaml\|rules\[0\]\.emissions\[1\]\.params\.after.*ORDERS needs params\.after/),
    ]);
  });

  it("accepts the seed's disabled: true, alone or beside an agreeing enabled, as a switched-off rule", () => {
    const enabledOf = (flags: string) =>
      loadBundle(bundleFiles({ 'rules.yaml': RULES.replace('    priority: 10\n', `    priority: 10\n${flags}`) }))
        .rules!.rules[0]!.enabled;
    expect(enabledOf('    disabled: true\n')).toBe(false);
    expect(enabledOf('    disabled: false\n')).toBe(true);
    expect(enabledOf('    enabled: false\n    disabled: true\n')).toBe(false);
    expect(enabledOf('    enabled: false\n')).toBe(false);
    expect(enabledOf('')).toBe(true);
  });

  it('refuses a rule whose enabled and disabled contradict, naming file, rule and line', () => {
    const { problems } = invalid({
      'rules.yaml': RULES.replace('    priority: 10\n', '    priority: 10\n    enabled: true\n    disabled: true\n'),
    });
    expect(problems).toEqual([
      'rules.yaml|rules[0].disabled (line 9)|rule "vip" says enabled: true and disabled: true; keep one of them',
    ]);
  });

  it('refuses empty rules', () => {
    const { problems } = invalid({ 'rules.yaml': 'subtask_types: []\nrules: []\n', 'fixtures/vip.yaml': null });
    expect(problems).toEqual(['rules.yaml|rules (line 2)|rules must not be empty: a snapshot needs at least one rule']);
  });

  it('refuses a fixture that names an unknown subtask or rule', () => {
    const fixture = 'name: f\ninput: { tags: [vip] }\nexpect:\n  subtasks: [escalate, teleport]\n  rules: [ghost]\n';
    expect(invalid({ 'fixtures/vip.yaml': fixture }).problems).toEqual([
      'fixtures/vip.yaml|expect.subtasks[1] (line 4)|unknown subtask "teleport"',
      'fixtures/vip.yaml|expect.rules[0] (line 5)|unknown rule "ghost"',
    ]);
  });

  it('refuses a fixture input with an unknown top-level key (closed world)', () => {
    const fixture = 'name: f\ninput: { tag: [vip] }\nexpect: { subtasks: [] }\n';
    expect(invalid({ 'fixtures/vip.yaml': fixture }).problems).toEqual([
      expect.stringMatching(/^fixtures\/vip\.yaml\|input.*unknown key\(s\) tag/),
    ]);
  });

  it('reports every problem of every file at once', () => {
    const { problems, message } = invalid({
      'manifest.yaml': MANIFEST.replace('env: dev', 'env: qa'),
      'rules.yaml': rulesWith('- { type: VALUE, key: context.room, op: IN, value: suite }'),
      'fixtures/vip.yaml': 'name: f\ninput: {}\nexpect: { subtasks: nope }\n',
      'notes.txt': 'hello',
    });
    expect(problems.map((p) => p.split('|')[0])).toEqual([
      'notes.txt',
      'manifest.yaml',
      'rules.yaml',
      'fixtures/vip.yaml',
    ]);
    expect(message.split('\n')).toHaveLength(5);
  });

  it('refuses a bundle over the size limit', () => {
    const error = pkgErrorOf(() => loadBundle(bundleFiles({ 'README.md': 'x'.repeat(BUNDLE_LIMITS.fileBytes + 1) })));
    expect(error.type).toBe('BundleTooLarge');
    expect(error.problems[0]).toMatchObject({ file: 'README.md' });
  });

  it('needs rules.yaml unless the bundle is wasm with its own Rego', () => {
    expect(invalid({ 'rules.yaml': null, 'fixtures/vip.yaml': null }).problems).toEqual([
      expect.stringMatching(/^rules\.yaml\|\|missing/),
    ]);
    const wasmOnly = bundleFiles({
      'rules.yaml': null,
      'fixtures/vip.yaml': null,
      'manifest.yaml': MANIFEST.replace('engine: native', 'engine: wasm'),
      'policy/main.rego': 'package pkg\n',
    });
    expect(loadBundle(wasmOnly).rego.get('policy/main.rego')).toBe('package pkg\n');
  });
});
