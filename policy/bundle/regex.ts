/**
 * MATCHES patterns run as JavaScript RegExp (native engine, `u` flag) and as RE2 (OPA wasm). A
 * pattern is accepted only if JavaScript compiles it and it avoids the constructs RE2 refuses or
 * reads differently (lookaround, backreferences), so both engines give the same answer.
 */
const RE2_UNSUPPORTED: readonly [RegExp, string][] = [
  [/\(\?<?[=!]/, 'lookaround ((?=, (?!, (?<=, (?<!) is not supported by OPA'],
  [/\\[1-9]|\\k</, 'backreferences are not supported by OPA'],
  [/\\[sSpP]/, '\\s and \\p classes match different characters in OPA (write the class out, e.g. [ \\t])'],
];

export function regexProblem(pattern: string): string[] {
  try {
    new RegExp(pattern, 'u');
  } catch (error) {
    return [
      `MATCHES has an invalid regex ${JSON.stringify(pattern)}: ${error instanceof Error ? error.message : String(error)}`,
    ];
  }
  return RE2_UNSUPPORTED.filter(([construct]) => construct.test(pattern)).map(
    ([, why]) => `MATCHES regex ${JSON.stringify(pattern)}: ${why}`,
  );
}
