import { BUNDLE_LIMITS } from '../../policy/bundle/limits';
import { MANIFEST, RULES } from '../unit/bundle-builder';

/** Every bad bundle of issue 3, as changes to the unit tests' small valid bundle, with the message it must produce. */
const condition = (text: string) => RULES.replace('- { type: SIGNAL, key: x2, op: ">=", value: 0.7 }', text);
const wasmManifest = MANIFEST.replace('engine: native', 'engine: wasm');

export const BAD_BUNDLES: [string, Record<string, string | null>, RegExp][] = [
  ['malformed YAML', { 'rules.yaml': 'rules:\n  - name: [unclosed\n' }, /rules\.yaml: line \d+: malformed YAML/],
  ['missing manifest', { 'manifest.yaml': null }, /manifest\.yaml: missing/],
  [
    'bad version',
    { 'manifest.yaml': MANIFEST.replace('test-policy@1.0.0', 'v1') },
    /manifest\.yaml: version \(line 1\): version must be name@semver/,
  ],
  ['unknown env', { 'manifest.yaml': MANIFEST.replace('env: dev', 'env: qa') }, /unknown env "qa"/],
  ['unknown engine', { 'manifest.yaml': MANIFEST.replace('engine: native', 'engine: lua') }, /unknown engine "lua"/],
  [
    'unknown condition type',
    { 'rules.yaml': condition('- { type: MOOD, key: happy }') },
    /rules\[0\]\.conditions\[1\]\.type \(line 10\): unknown condition type "MOOD"/,
  ],
  [
    'unknown operator',
    { 'rules.yaml': condition('- { type: SIGNAL, key: x2, op: "=~", value: 1 }') },
    /unknown operator "=~"/,
  ],
  [
    'IN with a non-list',
    { 'rules.yaml': condition('- { type: VALUE, key: context.a, op: IN, value: b }') },
    /IN needs a list value/,
  ],
  [
    'MATCHES with an invalid regex',
    { 'rules.yaml': condition('- { type: VALUE, key: context.a, op: MATCHES, value: "a[" }') },
    /MATCHES has an invalid regex "a\["/,
  ],
  [
    'numeric operator on a string',
    { 'rules.yaml': condition('- { type: SIGNAL, key: x2, op: ">", value: high }') },
    /numeric operator > needs a number, got "high"/,
  ],
  [
    'undeclared subtask',
    { 'rules.yaml': RULES.replace('subtask: escalate, params', 'subtask: teleport, params') },
    /emits undeclared subtask type "teleport"/,
  ],
  ['duplicate rule names', { 'rules.yaml': `${RULES}  - name: vip\n` }, /duplicate rule name "vip"/],
  [
    'ORDERS cycle',
    {
      'rules.yaml': `${RULES}  - name: back\n    emissions: [{ subtask: escalate, relationship: ORDERS, params: { after: notify } }]\n`,
    },
    /ORDERS\/GATE cycle/,
  ],
  [
    'Rego syntax error',
    { 'manifest.yaml': wasmManifest, 'policy/main.rego': 'package pkg\n\nresult := [\n' },
    /policy\/main\.rego:\d+: rego_parse_error/,
  ],
  [
    'Rego with an unsupported builtin',
    { 'manifest.yaml': wasmManifest, 'policy/main.rego': 'package pkg\n\nresult := time.now_ns()\n' },
    /policy\/main\.rego:\d+: rego_type_error: undefined function time\.now_ns/,
  ],
  [
    'fixture with an unknown subtask',
    { 'fixtures/vip.yaml': 'name: f\ninput: {}\nexpect: { subtasks: [teleport] }\n' },
    /fixtures\/vip\.yaml: expect\.subtasks\[0\] \(line 3\): unknown subtask "teleport"/,
  ],
  [
    'empty rules',
    { 'rules.yaml': 'subtask_types: []\nrules: []\n', 'fixtures/vip.yaml': null },
    /rules must not be empty/,
  ],
  ['bundle over the size limit', { 'README.md': 'x'.repeat(BUNDLE_LIMITS.totalBytes + 1) }, /over the .*limit/],
  [
    'failing fixture',
    {
      'fixtures/vip.yaml':
        'name: wrong\ninput: { tags: [vip], signals: { x2: 0.8 } }\nexpect: { subtasks: [notify] }\n',
    },
    /wrong: subtasks \[escalate, notify\], expected \[notify\]/,
  ],
];
