import { formatKey, keyMatches, presentedKeyId } from '../../policy/access/evaluator-key';
import {
  compileKeyScope,
  formatKeyScope,
  keyScopeEnvs,
  keysRequiredFor,
  parseKeyScope,
} from '../../policy/access/key-scope';
import { evaluatorKeyRequestSchema } from '../../policy/access/key-request';
import { loadConfig, ConfigError } from '../../policy/config';
import type { Lane } from '../../policy/lane';

const bytes = (length: number, fill: number) => Buffer.alloc(length, fill);
const key = formatKey(bytes(8, 0xab), bytes(32, 0x11));
const lane = (name: string): Lane => {
  const [env, target, region] = name.split('/') as [Lane['env'], string, string];
  return { env, target, region };
};

describe('key text', () => {
  test('carries its public id, and only the whole text matches its digest', () => {
    expect(key.id).toBe('abababababababab');
    expect(key.text).toMatch(/^pkek_abababababababab_[A-Za-z0-9_-]{43}$/);
    expect(presentedKeyId(`Bearer ${key.text}`)).toBe(key.id);
    expect(keyMatches(`Bearer ${key.text}`, key.sha256)).toBe(true);
    const other = formatKey(bytes(8, 0xab), bytes(32, 0x12));
    expect(presentedKeyId(`Bearer ${other.text}`)).toBe(key.id);
    expect(keyMatches(`Bearer ${other.text}`, key.sha256)).toBe(false);
  });

  test.each([
    ['no scheme', key.text],
    ['another scheme', `Basic ${key.text}`],
    ['a shortened secret', `Bearer ${key.text.slice(0, -1)}`],
    ['an upper-case id', `Bearer ${key.text.replace('abab', 'ABAB')}`],
    ['empty', 'Bearer '],
  ])('%s is not a key', (_what, header) => {
    expect(presentedKeyId(header)).toBeNull();
  });

  test('needs exactly the id and secret sizes', () => {
    expect(() => formatKey(bytes(4, 1), bytes(32, 1))).toThrow(/8 id bytes and 32 secret bytes/);
  });
});

describe('key scope', () => {
  test('patterns with globs; a missing part means any', () => {
    const parsed = parseKeyScope('prod/web/*, staging ,dev/api-*/eu-*,prod/web/*');
    expect(parsed.ok && formatKeyScope(parsed.value)).toBe('prod/web/*,staging/*/*,dev/api-*/eu-*');
    const allows = compileKeyScope(parsed.ok ? parsed.value : []);
    expect(allows(lane('prod/web/eu'))).toBe(true);
    expect(allows(lane('prod/webshop/eu'))).toBe(false);
    expect(allows(lane('prod/api/eu'))).toBe(false);
    expect(allows(lane('staging/any/where'))).toBe(true);
    expect(allows(lane('dev/api-v2/eu-west'))).toBe(true);
    expect(allows(lane('dev/api-v2/us-east'))).toBe(false);
  });

  test('a glob never crosses a slash, and dots are literal', () => {
    const parsed = parseKeyScope('prod/a.b/*');
    const allows = compileKeyScope(parsed.ok ? parsed.value : []);
    expect(allows(lane('prod/a.b/x'))).toBe(true);
    expect(allows(lane('prod/axb/x'))).toBe(false);
    const any = parseKeyScope('*/*');
    expect(compileKeyScope(any.ok ? any.value : [])(lane('dev/t/r'))).toBe(true);
  });

  test.each([
    ['prod/web/*,staging', ['prod', 'staging']],
    ['dev', ['dev']],
    ['*/web', ['prod', 'staging', 'dev']],
    ['st*', ['staging']],
    ['p*d/x', ['prod']],
  ])('%j reaches envs %j (who may manage the key)', (text, envs) => {
    const parsed = parseKeyScope(text);
    expect(parsed.ok && keyScopeEnvs(parsed.value).sort()).toEqual([...envs].sort());
  });

  test.each([
    ['', 'at least one lane pattern'],
    ['qa', 'names env qa'],
    ['prod/a/b/c', 'bad lane pattern "prod/a/b/c"'],
    ['prod/(x)', 'bad lane pattern'],
  ])('%j is refused: %s', (text, reason) => {
    const parsed = parseKeyScope(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });
});

describe('which lanes need a key', () => {
  test('by default the lanes of prod only', () => {
    const config = loadConfig({});
    const required = keysRequiredFor(config.EVALUATOR_REQUIRE_KEYS, config.EVALUATOR_KEYS_REQUIRED_ENVS);
    expect(required(lane('prod/web/eu'))).toBe(true);
    expect(required(lane('staging/web/eu'))).toBe(false);
    expect(required(lane('dev/web/eu'))).toBe(false);
  });

  test('EVALUATOR_REQUIRE_KEYS=true every lane, false none; the env list otherwise', () => {
    const requiredOf = (env: Record<string, string>) => {
      const config = loadConfig(env);
      return keysRequiredFor(config.EVALUATOR_REQUIRE_KEYS, config.EVALUATOR_KEYS_REQUIRED_ENVS);
    };
    expect(requiredOf({ EVALUATOR_REQUIRE_KEYS: 'true' })(lane('dev/a/b'))).toBe(true);
    expect(requiredOf({ EVALUATOR_REQUIRE_KEYS: 'false' })(lane('prod/a/b'))).toBe(false);
    const envs = requiredOf({ EVALUATOR_KEYS_REQUIRED_ENVS: 'staging,prod' });
    expect([envs(lane('staging/a/b')), envs(lane('prod/a/b')), envs(lane('dev/a/b'))]).toEqual([true, true, false]);
    expect(requiredOf({ EVALUATOR_KEYS_REQUIRED_ENVS: 'none' })(lane('prod/a/b'))).toBe(false);
  });

  test.each([
    ['EVALUATOR_REQUIRE_KEYS', 'yes', 'true or false'],
    ['EVALUATOR_KEYS_REQUIRED_ENVS', 'prod,qa', 'comma list of prod, staging, dev, or none'],
    ['EVALUATOR_KEYS_REFRESH_MS', '10000', 'EVALUATOR_KEYS_REFRESH_MS="10000"'],
  ])('a bad %s is named', (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(expected);
  });
});

describe('key requests', () => {
  test('burst defaults to two seconds of the rate, rate to 100/s', () => {
    expect(evaluatorKeyRequestSchema.parse({ name: 'a', scope: 'prod', rate: '2.5' })).toMatchObject({
      rate: 2.5,
      burst: 5,
    });
    expect(evaluatorKeyRequestSchema.parse({ name: 'a', scope: 'prod' })).toMatchObject({ rate: 100, burst: 200 });
    expect(evaluatorKeyRequestSchema.parse({ name: 'a', scope: 'prod', expiresIn: '90d' }).expiresIn).toBe(
      90 * 86_400_000,
    );
  });

  test('every bad field is reported at once', () => {
    const parsed = evaluatorKeyRequestSchema.safeParse({
      name: 'a b',
      scope: 'qa',
      rate: '0',
      burst: '1.5',
      expiresIn: 'soon',
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'burst',
      'expiresIn',
      'name',
      'rate',
      'scope',
    ]);
  });
});
