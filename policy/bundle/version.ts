import { parseDocument } from 'yaml';
import type { BundleFiles } from './bundle';
import { PkgError } from '../errors';

/**
 * A copy of a bundle whose manifest carries another version, the rest of the YAML untouched.
 * Tests use it to give every stored snapshot a unique version (hotel-ops@1.0.0-t<random>), since
 * versions are unique across the shared database.
 */
export function withManifestVersion(files: BundleFiles, version: string): BundleFiles {
  const manifest = files.get('manifest.yaml');
  if (!manifest) throw new PkgError('BundleInvalid', 'manifest.yaml: missing');
  const document = parseDocument(manifest.toString('utf8'));
  document.set('version', version);
  return new Map([...files, ['manifest.yaml', Buffer.from(document.toString())]]);
}

/** `hotel-ops@1.0.0` + `t1a2b` → `hotel-ops@1.0.0-t1a2b` (a semver prerelease). */
export function withVersionSuffix(files: BundleFiles, suffix: string): BundleFiles {
  const manifest = files.get('manifest.yaml');
  const version = manifest ? parseDocument(manifest.toString('utf8')).get('version') : undefined;
  if (typeof version !== 'string') throw new PkgError('BundleInvalid', 'manifest.yaml: version is missing');
  const [name, release = ''] = version.split('@');
  return withManifestVersion(files, `${name}@${release.replace(/[-+].*$/, '')}-${suffix}`);
}
