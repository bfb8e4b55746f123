import type { Lane } from '../../policy/lane';
import type { DecisionDraft, LoggedRequest } from './decision-log';

/**
 * Decisions on their way to the writer thread as one string per message: each decision a record of
 * text fields. Structured clone walks an object field by field, and per decision that walk cost the
 * request's thread more than everything else logging did there; appending to a string costs a few
 * rope nodes, and the message copies it once.
 *
 * Fields are separated by U+0001 and records end with U+0002. Neither can appear in the fields:
 * JSON text (the body as parsed, facts, result) allows control characters only escaped, ids are
 * UUIDs, and the free texts (lane parts, version, error) have theirs replaced by spaces. A null is
 * an empty field (no JSON text is empty); an error is prefixed with `!`, so an empty one stays
 * distinct from none.
 */
const FIELD = '\u0001';
const RECORD = '\u0002';

// Control characters are what these look for: the separators are two of them.
/* eslint-disable no-control-regex */
const CONTROL = /[\u0000-\u001f]/;
const CONTROLS = /[\u0000-\u001f]/g;
/* eslint-enable no-control-regex */

/** The text with its control characters (below U+0020) as spaces; the text itself when it has none. */
const clean = (text: string): string => (CONTROL.test(text) ? text.replace(CONTROLS, ' ') : text);

/**
 * One decision's record, to append to the batch being gathered. The engine time goes as whole
 * nanoseconds: the line keeps no more, and a fraction costs more to print than the rest together.
 */
export function decisionRecord(request: DecisionDraft, decisionId: string, at: number): string {
  const error = request.error === null ? '' : `!${clean(request.error)}`;
  return (
    decisionId +
    FIELD +
    at +
    FIELD +
    request.lane.env +
    FIELD +
    clean(request.lane.target) +
    FIELD +
    clean(request.lane.region) +
    FIELD +
    clean(request.snapshotVersion) +
    FIELD +
    (request.canary ? '1' : '0') +
    FIELD +
    request.mode +
    FIELD +
    request.requestJson +
    FIELD +
    (request.factsJson ?? '') +
    FIELD +
    (request.result ?? '') +
    FIELD +
    error +
    FIELD +
    Math.max(0, Math.round(request.evalNs)) +
    RECORD
  );
}

/** The writer's side: the decisions of a batch, in order; one Lane object per lane. */
export function decisionBatchReader() {
  const lanes = new Map<string, Lane>();
  const laneOf = (env: string, target: string, region: string): Lane => {
    const key = `${env}${FIELD}${target}${FIELD}${region}`;
    let lane = lanes.get(key);
    if (!lane) lanes.set(key, (lane = { env: env as Lane['env'], target, region }));
    return lane;
  };
  return (batch: string): LoggedRequest[] => {
    const requests: LoggedRequest[] = [];
    let start = 0;
    for (let end = batch.indexOf(RECORD); end >= 0; start = end + 1, end = batch.indexOf(RECORD, start)) {
      const fields = batch.slice(start, end).split(FIELD);
      const [decisionId, at, env, target, region, snapshotVersion, canary, mode, requestJson, facts, result, error] =
        fields as [string, string, string, string, string, string, string, string, string, string, string, string];
      requests.push({
        decisionId,
        at: Number(at),
        lane: laneOf(env, target, region),
        snapshotVersion,
        canary: canary === '1',
        mode: mode === 'advisory' ? 'advisory' : 'control',
        requestJson,
        factsJson: facts === '' ? null : facts,
        result: result === '' ? null : result,
        error: error === '' ? null : error.slice(1),
        evalNs: Number(fields[12]),
      });
    }
    return requests;
  };
}
