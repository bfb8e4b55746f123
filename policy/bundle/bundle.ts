import type { Problem } from '../errors';
import { PkgError } from '../errors';
import { checkBundleSize } from './limits';
import { fileChecksums, snapshotChecksum, SIGNATURES_FILE } from './checksum';
import { checkFixtures, checkRules, type LocatedFixture } from './checks';
import {
  fixtureListSchema,
  fixtureSchema,
  manifestSchema,
  rulesFileSchema,
  type Fixture,
  type Manifest,
  type RulesFile,
} from './schema';
import { parseYaml, validate, type ParsedYaml } from './yaml';
import { GENERATED_REGO_NAMES } from '../rego/generate';

/**
 * A bundle (ARCHITECTURE.md §3) read from an in-memory file map: relative posix path → bytes. Parsing is
 * pure; reading a directory or a pkg_bundles row happens elsewhere. Every problem in every file
 * is collected before failing, so one run of `bundle validate` shows the author all of them.
 */
export type BundleFiles = Map<string, Buffer>;

export interface BundleFixture extends Fixture {
  file: string;
}

export interface Bundle {
  manifest: Manifest;
  rules: RulesFile | null;
  /** The bundle's own policy/*.rego, path → source; empty when Rego is generated. */
  rego: Map<string, string>;
  fixtures: BundleFixture[];
  fileChecksums: Record<string, string>;
  checksum: string;
  files: BundleFiles;
}

const KNOWN_FILES: readonly [RegExp, string][] = [
  [/^manifest\.yaml$/, 'manifest'],
  [/^rules\.yaml$/, 'rules'],
  [/^policy\/[^/]+\.rego$/, 'rego'],
  [/^fixtures\/[^/]+\.ya?ml$/, 'fixture'],
  [/^\.signatures\.json$/, 'signatures'],
  [/^README\.md$/, 'readme'],
];

export function loadBundle(files: BundleFiles): Bundle {
  checkBundleSize(files);
  const problems: Problem[] = [];
  for (const file of files.keys()) {
    if (!KNOWN_FILES.some(([pattern]) => pattern.test(file))) {
      problems.push({
        file,
        message:
          'unexpected file (allowed: manifest.yaml, rules.yaml, policy/*.rego, fixtures/*.yaml, .signatures.json, README.md)',
      });
    }
  }
  const manifest = readManifest(files, problems);
  const rulesParsed = readYamlFile(files, 'rules.yaml', problems);
  const rules = rulesParsed ? validate(rulesFileSchema, 'rules.yaml', rulesParsed, problems) : null;
  if (rules && rulesParsed) checkRules(rules, rulesParsed, problems);
  const rego = readRego(files, problems);
  if (manifest) checkEngineSources(manifest, files.has('rules.yaml'), rego, problems);
  const fixtures = readFixtures(files, problems);
  checkFixtures(fixtures, rules, problems);
  if (problems.length > 0 || !manifest) {
    throw PkgError.fromProblems(
      'BundleInvalid',
      `bundle is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'})`,
      problems,
    );
  }
  const checksums = fileChecksums(files);
  return {
    manifest,
    rules,
    rego,
    fixtures: fixtures.map(({ fixture, file }) => ({ ...fixture, file })),
    fileChecksums: checksums,
    checksum: snapshotChecksum(checksums),
    files,
  };
}

function readManifest(files: BundleFiles, problems: Problem[]): Manifest | null {
  if (!files.has('manifest.yaml')) {
    problems.push({ file: 'manifest.yaml', message: 'missing: every bundle needs a manifest.yaml' });
    return null;
  }
  const parsed = readYamlFile(files, 'manifest.yaml', problems);
  return parsed ? validate(manifestSchema, 'manifest.yaml', parsed, problems) : null;
}

function readYamlFile(files: BundleFiles, file: string, problems: Problem[]): ParsedYaml | null {
  const bytes = files.get(file);
  if (!bytes) return null;
  const text = decodeText(file, bytes, problems);
  if (text === null) return null;
  const parsed = parseYaml(file, text, problems);
  if (parsed && (parsed.value === null || parsed.value === undefined)) {
    problems.push({ file, message: 'file is empty' });
    return null;
  }
  return parsed;
}

function decodeText(file: string, bytes: Buffer, problems: Problem[]): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    problems.push({ file, message: 'not valid UTF-8 text' });
    return null;
  }
}

function readRego(files: BundleFiles, problems: Problem[]): Map<string, string> {
  const rego = new Map<string, string>();
  for (const file of [...files.keys()].filter((f) => f.startsWith('policy/') && f.endsWith('.rego')).sort()) {
    const text = decodeText(file, files.get(file)!, problems);
    if (text !== null) rego.set(file, text);
  }
  return rego;
}

function checkEngineSources(
  manifest: Manifest,
  hasRules: boolean,
  rego: Map<string, string>,
  problems: Problem[],
): void {
  if (!hasRules && (manifest.engine === 'native' || rego.size === 0)) {
    problems.push({
      file: 'rules.yaml',
      message: 'missing: required unless engine is wasm and the bundle has its own policy/*.rego',
    });
  }
  const output = manifest.entrypoint.split('/').slice(1);
  if (
    rego.size === 0 &&
    (output.length !== 1 || GENERATED_REGO_NAMES.includes(output[0]!) || output[0]!.startsWith('by_'))
  ) {
    problems.push({
      file: 'manifest.yaml',
      path: 'entrypoint',
      message: `generated Rego needs an entrypoint pkg/<name>, <name> not in ${GENERATED_REGO_NAMES.join(', ')} nor by_*, e.g. pkg/result`,
    });
  }
}

function readFixtures(files: BundleFiles, problems: Problem[]): LocatedFixture[] {
  const located: LocatedFixture[] = [];
  for (const file of [...files.keys()].filter((f) => f.startsWith('fixtures/')).sort()) {
    const parsed = readYamlFile(files, file, problems);
    if (!parsed) continue;
    const many = Array.isArray(parsed.value);
    const single = many ? null : validate(fixtureSchema, file, parsed, problems);
    const fixtures: Fixture[] = (many ? validate(fixtureListSchema, file, parsed, problems) : single && [single]) ?? [];
    fixtures.forEach((fixture, i) => located.push({ fixture, file, parsed, base: many ? [i] : [] }));
  }
  return located;
}

export { SIGNATURES_FILE };
