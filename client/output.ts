import type { Failure } from './exit-codes';

/**
 * Everything pkgctl prints goes through here, so stdout carries only results: with --json exactly
 * one JSON value a script can parse, otherwise the human text; progress and errors go to stderr.
 */

/** JSON that is already serialized and must be printed byte for byte (a signed record's canonical form). */
export class JsonText {
  constructor(readonly text: string) {}
}

/** A command's result: `value` as one JSON line with --json, otherwise the text `human` builds. */
export function printResult(json: boolean | undefined, value: unknown, human: () => string): void {
  if (!json) return printText(human());
  writeLine(process.stdout, value instanceof JsonText ? value.text : JSON.stringify(value));
}

/** Human text with no JSON form, or printed before a --json-less command's result. */
export function printText(text: string): void {
  writeLine(process.stdout, text);
}

/** A result that is a JSON document whatever the flags (evaluate's ARCHITECTURE.md §4 output), indented for people. */
export function printDocument(value: unknown): void {
  writeLine(process.stdout, JSON.stringify(value, null, 2));
}

/** Progress while a command waits: on stderr so it never mixes with the result. */
export function printProgress(line: string): void {
  writeLine(process.stderr, line);
}

/** A failed command's one JSON result: outcome "error", the failure's type and message. */
export function printFailure(failure: Failure): void {
  writeLine(process.stdout, JSON.stringify({ outcome: 'error', ...failure }));
}

/** An expected failure: its message, no stack trace. */
export function printError(message: string): void {
  writeLine(process.stderr, `error: ${message}`);
}

function writeLine(stream: NodeJS.WriteStream, text: string): void {
  stream.write(`${text}\n`);
}
