import type { ParseResult } from '../engine/evaluation-request';
import { ENVS, LANE_PART, laneName, type Lane } from '../lane';

/**
 * Which share of a lane's decisions is logged. `DECISION_LOG_SAMPLE` is a comma list of a default
 * rate and lane overrides, each rate a fraction 0..1: `0.1,prod/web/eu=1,dev/default/default=0`
 * logs a tenth of everything, all of prod/web/eu and nothing of dev's default lane. A lane is named
 * whole (`env/target/region`), so an override never silently covers more than the lane it names.
 */
export interface DecisionLogSampling {
  defaultRate: number;
  /** Overrides by lane name (`env/target/region`). */
  lanes: ReadonlyMap<string, number>;
}

const RATE = /^(0(\.\d*)?|\.\d+|1(\.0*)?)$/;

export function parseDecisionLogSampling(text: string): ParseResult<DecisionLogSampling> {
  let defaultRate: number | undefined;
  const lanes = new Map<string, number>();
  for (const item of text.split(',').map((part) => part.trim())) {
    if (item === '') continue;
    const separator = item.indexOf('=');
    const lane = separator < 0 ? null : item.slice(0, separator).trim();
    const rateText = item.slice(separator + 1).trim();
    if (!RATE.test(rateText)) return { ok: false, reason: `"${item}": the rate must be a fraction 0..1, e.g. 0.1` };
    if (lane === null) {
      if (defaultRate !== undefined) return { ok: false, reason: `"${item}": only one default rate may be given` };
      defaultRate = Number(rateText);
      continue;
    }
    if (!isLaneName(lane))
      return { ok: false, reason: `"${item}": the lane must be env/target/region, e.g. prod/web/eu=1` };
    if (lanes.has(lane)) return { ok: false, reason: `"${item}": lane ${lane} is given twice` };
    lanes.set(lane, Number(rateText));
  }
  return { ok: true, value: { defaultRate: defaultRate ?? 0, lanes } };
}

function isLaneName(text: string): boolean {
  const parts = text.split('/');
  return (
    parts.length === 3 &&
    (ENVS as readonly string[]).includes(parts[0]!) &&
    LANE_PART.test(parts[1]!) &&
    LANE_PART.test(parts[2]!)
  );
}

/** Without overrides no lane name is built: this runs on every request. */
export function sampleRate(sampling: DecisionLogSampling, lane: Lane): number {
  if (sampling.lanes.size === 0) return sampling.defaultRate;
  return sampling.lanes.get(laneName(lane)) ?? sampling.defaultRate;
}

/** True for a share `rate` of draws; 0 never, 1 always (draws are in [0, 1)). */
export const isSampled = (rate: number, draw: number): boolean => rate > 0 && draw < rate;

/** Whether any lane could ever be logged: when not, the evaluator builds no decision log at all. */
export const samplesAnything = (sampling: DecisionLogSampling): boolean =>
  sampling.defaultRate > 0 || [...sampling.lanes.values()].some((rate) => rate > 0);
