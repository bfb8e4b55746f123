import { InvalidArgumentError, Option } from 'commander';
import { parseDuration, type RolloutOverrides } from '../../policy/rollout/config';
import { ENVS, LANE_PART } from '../../policy/lane';
import { defaultActor } from '../rollout-client';

/** Argument parsing shared by the rollout commands. */
export const envOption = () => new Option('--env <env>', 'environment').choices(ENVS).makeOptionMandatory();

export const laneOption = (part: 'target' | 'region') =>
  new Option(`--${part} <${part}>`, `lane ${part}`).argParser(parseLanePart).default('default');

export const actorOption = () => new Option('--actor <actor>', 'who is acting (audited)').default(defaultActor());

export function parseSteps(text: string): number[] {
  const steps = text.split(',').map((part) => Number(part.trim()));
  if (
    steps.some((p) => !Number.isFinite(p) || p <= 0 || p > 100) ||
    steps.some((p, i) => i > 0 && p <= steps[i - 1]!)
  ) {
    throw new InvalidArgumentError('expected rising percents in (0, 100], e.g. 1,5,25,100');
  }
  return steps;
}

export function parseBake(text: string): string {
  try {
    parseDuration(text);
    return text;
  } catch {
    throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 2m');
  }
}

export function parseLanePart(text: string): string {
  if (!LANE_PART.test(text)) throw new InvalidArgumentError('letters, digits, _ . - (no slashes)');
  return text;
}

export function commandLineOverrides(options: { steps?: number[]; bake?: string }): RolloutOverrides {
  return { ...(options.steps ? { steps: options.steps } : {}), ...(options.bake ? { bake: options.bake } : {}) };
}
