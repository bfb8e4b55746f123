import { laneName, type Lane } from './lane';

/**
 * Prometheus file-based discovery from the fleet registry (ARCHITECTURE.md §5): one target group per
 * lane, each evaluator's host:port once. Processes behind one port (EVALUATOR_WORKERS > 1) are
 * instances `host:port#i` whose scrape the primary already sums, so scraping each would count twice.
 */
export interface FleetInstance {
  instanceId: string;
  lane: Lane;
}

/** The `[{targets, labels}]` document Prometheus' file_sd_configs reads. */
export interface TargetGroup {
  targets: string[];
  labels: { evaluator_lane: string };
}

/** `host:port` of an instance id; the process suffix `#i` names no address of its own. */
export function scrapeAddress(instanceId: string): string {
  return instanceId.replace(/#\d+$/, '');
}

export function scrapeTargetGroups(instances: FleetInstance[]): TargetGroup[] {
  const byLane = new Map<string, Set<string>>();
  for (const { instanceId, lane } of instances) {
    const name = laneName(lane);
    const targets = byLane.get(name) ?? new Set<string>();
    targets.add(scrapeAddress(instanceId));
    byLane.set(name, targets);
  }
  return [...byLane]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, targets]) => ({ targets: [...targets].sort(), labels: { evaluator_lane: name } }));
}
