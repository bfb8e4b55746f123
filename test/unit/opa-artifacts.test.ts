import { packBundle } from '../../policy/bundle/pack';
import { sha256Hex } from '../../policy/bundle/checksum';
import { pkgErrorOf } from '../support/pkg-error';
import { DATA_FILE, packRegoArtifact, storedWasmData, verifyArtifact } from '../../policy/rego/artifacts';

const rego = new Map([['policy/generated.rego', 'package pkg\n']]);
const data = { pkg_snapshot: { rules: [{ id: 'r1', subtasks: ['escalate'] }] } };

test('the data document travels with the Rego it was generated for', () => {
  const artifact = packRegoArtifact(rego, data);
  expect(artifact.sha256).toBe(sha256Hex(artifact.bytes));
  expect(storedWasmData('p@1.0.0', artifact)).toEqual(data);
});

test('a rego artifact without data (from an older pipeline) is refused, naming the snapshot', () => {
  const bytes = packBundle(new Map([['policy/generated.rego', Buffer.from('package pkg\n')]]));
  const error = pkgErrorOf(() => storedWasmData('p@1.0.0', { bytes, sha256: sha256Hex(bytes) }));
  expect(error.type).toBe('NotFound');
  expect(error.message).toContain('p@1.0.0');
  expect(error.message).toContain(DATA_FILE);
});

test('changed bytes are refused before anything is read from them', () => {
  const artifact = packRegoArtifact(rego, data);
  const tampered = Buffer.from(artifact.bytes);
  tampered.writeUInt8(tampered.readUInt8(10) ^ 1, 10);
  expect(pkgErrorOf(() => storedWasmData('p@1.0.0', { bytes: tampered, sha256: artifact.sha256 })).type).toBe(
    'ChecksumMismatch',
  );
  expect(pkgErrorOf(() => verifyArtifact('p@1.0.0', 'wasm', { bytes: tampered, sha256: artifact.sha256 })).type).toBe(
    'ChecksumMismatch',
  );
});
