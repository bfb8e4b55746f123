import fc from 'fast-check';
import { bundleDigest, packBundle, unpackBundle } from '../../policy/bundle/pack';
import { pkgErrorOf } from '../support/pkg-error';

describe('bundle packing', () => {
  it('round-trips any files and packs the same files to the same digest regardless of order', () => {
    const path = fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8})?\.ya?ml$/);
    fc.assert(
      fc.property(fc.dictionary(path, fc.uint8Array({ maxLength: 64 })), (entries) => {
        const files = new Map(Object.entries(entries).map(([file, bytes]) => [file, Buffer.from(bytes)]));
        const reversed = new Map([...files].reverse());
        expect(bundleDigest(packBundle(reversed))).toBe(bundleDigest(packBundle(files)));
        expect(unpackBundle(packBundle(files))).toEqual(files);
      }),
    );
  });

  it('refuses bytes that are not a packed bundle, and paths escaping the bundle', () => {
    expect(pkgErrorOf(() => unpackBundle(Buffer.from('not json'))).type).toBe('BundleInvalid');
    const escaping = Buffer.from(JSON.stringify({ format: 'pkg-bundle/1', files: { '../etc/passwd': '' } }));
    expect(pkgErrorOf(() => unpackBundle(escaping)).type).toBe('BundleInvalid');
  });
});
