import type { ImpactReport } from '../policy/rollout/impact';
import type { Lane } from '../policy/lane';
import { COMPILE, compile, replayer } from './promotion-activities';

/** What `pkgctl impact` asks: a bundle (uploaded, by digest) or a stored version, replayed on a lane. */
export interface ImpactInput {
  lane: Lane;
  bundle: { digest: string } | { version: string };
  windowMs: number;
  limit: number;
  maxExamples: number;
  actor: string;
}

/**
 * Impact analysis on demand: the same replay as the promotion's replay stage, with nothing deployed.
 * An uploaded bundle is compiled and stored first, as a promotion would (same version, same snapshot).
 */
export async function impactAnalysis(input: ImpactInput): Promise<ImpactReport> {
  const { bundle } = input;
  const candidate =
    'digest' in bundle
      ? {
          snapshotId: (
            await compile.compileBundle.executeWithOptions({ ...COMPILE, summary: 'compile the candidate' }, [
              { digest: bundle.digest, actor: input.actor },
            ])
          ).snapshotId,
        }
      : { version: bundle.version };
  return replayer.replayDecisions({
    lane: input.lane,
    candidate,
    windowMs: input.windowMs,
    limit: input.limit,
    maxExamples: input.maxExamples,
  });
}
