import { describePlainActivation, plainActivationVersion } from '../../policy/rollout/plain-activation';

describe('plainActivationVersion', () => {
  it('reads the version of the seed message and nothing else', () => {
    expect(plainActivationVersion('activate:rules@1.5.0')).toBe('rules@1.5.0');
    expect(plainActivationVersion(' activate:rules@1.5.0\n')).toBe('rules@1.5.0');
    expect(plainActivationVersion('activate:')).toBeNull();
    expect(plainActivationVersion('activate:rules@1.5.0 now')).toBeNull();
    expect(plainActivationVersion('{"type":"activate","env":"prod"}')).toBeNull();
  });

  it('describes each outcome in one line', () => {
    expect(describePlainActivation({ outcome: 'refused', version: 'r@1.0.0', reason: 'no snapshot r@1.0.0' })).toBe(
      'plain activate:r@1.0.0: refused: no snapshot r@1.0.0',
    );
    expect(describePlainActivation({ outcome: 'already-active', version: 'r@1.0.0', env: 'prod' })).toBe(
      'plain activate:r@1.0.0: already the active snapshot of prod, nothing to do',
    );
  });
});
