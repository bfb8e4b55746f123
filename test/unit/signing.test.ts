import { createHash, generateKeyPairSync } from 'node:crypto';
import { SIGNATURES_FILE } from '../../policy/bundle/checksum';
import { signBundle, verifyBundleSignature, type SigningPolicy } from '../../policy/bundle/signing';
import { bundleFiles } from './bundle-builder';
import { pkgErrorOf } from '../support/pkg-error';

const pair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};
const keys = pair();
const policy: SigningPolicy = { trustedKeys: [keys.publicPem], signedEnvs: ['prod'] };

function signed() {
  const files = bundleFiles();
  files.set(SIGNATURES_FILE, signBundle(files, keys.privatePem));
  return files;
}

describe('bundle signatures', () => {
  it('verifies a signed bundle', () => {
    expect(verifyBundleSignature(signed(), 'prod', policy)).toMatchObject({ signed: true });
  });

  it('refuses a tampered signature', () => {
    const files = signed();
    const content = JSON.parse(files.get(SIGNATURES_FILE)!.toString());
    const bytes = Buffer.from(content.signatures[0].signature, 'base64');
    bytes.writeUInt8(bytes.readUInt8(0) ^ 0xff, 0);
    content.signatures[0].signature = bytes.toString('base64');
    files.set(SIGNATURES_FILE, Buffer.from(JSON.stringify(content)));
    expect(pkgErrorOf(() => verifyBundleSignature(files, 'dev', policy)).type).toBe('SignatureInvalid');
  });

  it('names the file whose checksum no longer matches what was signed', () => {
    const files = signed();
    files.set('rules.yaml', Buffer.from(`${files.get('rules.yaml')!.toString()}# edited\n`));
    const error = pkgErrorOf(() => verifyBundleSignature(files, 'dev', policy));
    expect(error.type).toBe('ChecksumMismatch');
    expect(error.problems).toEqual([expect.objectContaining({ file: 'rules.yaml' })]);
  });

  it('refuses forged checksums even when they match the files', () => {
    const files = signed();
    files.set('rules.yaml', Buffer.from('changed'));
    const content = JSON.parse(files.get(SIGNATURES_FILE)!.toString());
    content.files['rules.yaml'] = createHash('sha256').update('changed').digest('hex');
    files.set(SIGNATURES_FILE, Buffer.from(JSON.stringify(content)));
    expect(pkgErrorOf(() => verifyBundleSignature(files, 'dev', policy)).type).toBe('SignatureInvalid');
  });

  it('refuses a signature by another key', () => {
    const files = bundleFiles();
    files.set(SIGNATURES_FILE, signBundle(files, pair().privatePem));
    expect(pkgErrorOf(() => verifyBundleSignature(files, 'dev', policy)).message).toMatch(
      /no signature by a trusted key/,
    );
  });

  it('requires a signature only in the envs that demand one', () => {
    expect(pkgErrorOf(() => verifyBundleSignature(bundleFiles(), 'prod', policy)).type).toBe('SignatureInvalid');
    expect(verifyBundleSignature(bundleFiles(), 'dev', policy)).toEqual({ signed: false });
  });

  it('refuses a non-Ed25519 signing key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(pkgErrorOf(() => signBundle(bundleFiles(), rsa)).type).toBe('InputInvalid');
  });
});
