import { loadBundle } from '../../policy/bundle/bundle';
import { compileSnapshot } from '../../policy/bundle/compile';
import { withVersionSuffix } from '../../policy/bundle/version';
import { ruleIdOf } from '../../policy/engine/compiled-snapshot';
import { bundleFiles } from './bundle-builder';

describe('compiled snapshots', () => {
  it('derives rule ids from version and rule name: stable, hex, distinct per version', () => {
    expect(ruleIdOf('a@1.0.0', 'vip')).toBe(ruleIdOf('a@1.0.0', 'vip'));
    expect(ruleIdOf('a@1.0.0', 'vip')).toMatch(/^[0-9a-f]{32}$/);
    expect(ruleIdOf('a@1.0.1', 'vip')).not.toBe(ruleIdOf('a@1.0.0', 'vip'));
  });

  it('compiles a bundle with defaults filled in', () => {
    const compiled = compileSnapshot(loadBundle(bundleFiles()));
    expect(compiled.rules[0]).toMatchObject({ name: 'vip', enabled: true, id: ruleIdOf('test-policy@1.0.0', 'vip') });
    expect(compiled.rules[0]!.conditions[0]).toEqual({ type: 'TAG', key: 'vip', op: 'EXISTS' });
  });

  it('rewrites the manifest version for tests, keeping the rest', () => {
    const bundle = loadBundle(withVersionSuffix(bundleFiles(), 'tabc'));
    expect(bundle.manifest.version).toBe('test-policy@1.0.0-tabc');
    expect(bundle.manifest.env).toBe('dev');
  });
});
