import { z } from 'zod';
import type { ParseResult } from '../engine/evaluation-request';

/**
 * An edge device's heartbeat (`POST /v1/devices/heartbeat`), in the seed's words: which device
 * (`door:D-1510`), of what type (`door`, `robot`, `router`, …), in which region, on which snapshot
 * (its `version`, or the seed's integer `snapshot_id`). The device's deployment target follows its
 * type (`router`, else `edge:<type>`), as in pkg_deployment_coverage. `evaluator` is the type this
 * product's evaluators report themselves under, so a device may not claim it: its heartbeat would
 * count toward a rollout's coverage gate.
 */
export interface DeviceHeartbeat {
  deviceId: string;
  deviceType: string;
  region: string;
  version: string | null;
  snapshotNumber: number | null;
  heartbeatMs: number;
}

export const EVALUATOR_DEVICE_TYPE = 'evaluator';
/** A device that says nothing about its period is expected every minute. */
export const DEFAULT_DEVICE_HEARTBEAT_MS = 60_000;

const text = (what: string) =>
  z.string().trim().min(1, `${what} must not be empty`).max(200, `${what}: at most 200 characters`);

const heartbeatSchema = z.strictObject({
  device_id: text('device_id'),
  device_type: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,62}$/, 'device_type must be lower case letters, digits, _ or -, e.g. door')
    .refine(
      (type) => type !== EVALUATOR_DEVICE_TYPE,
      `device_type ${EVALUATOR_DEVICE_TYPE} is reserved for evaluators`,
    ),
  region: text('region').default('default'),
  version: text('version').nullable().default(null),
  snapshot_id: z.number().int().positive('snapshot_id must be a positive integer').nullable().default(null),
  heartbeat_ms: z
    .number()
    .int()
    .min(1000, 'heartbeat_ms must be at least 1000')
    .max(86_400_000)
    .default(DEFAULT_DEVICE_HEARTBEAT_MS),
});

export function parseDeviceHeartbeat(body: unknown): ParseResult<DeviceHeartbeat> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, reason: 'heartbeat: expected a JSON object with device_id and device_type' };
  }
  const parsed = heartbeatSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message = issue.code === 'unrecognized_keys' ? `unknown key(s) ${issue.keys.join(', ')}` : issue.message;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return { ok: false, reason: `heartbeat ${where}${message}` };
  }
  const h = parsed.data;
  return {
    ok: true,
    value: {
      deviceId: h.device_id,
      deviceType: h.device_type,
      region: h.region,
      version: h.version,
      snapshotNumber: h.snapshot_id,
      heartbeatMs: h.heartbeat_ms,
    },
  };
}
