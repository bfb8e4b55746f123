import { DEFAULT_DEVICE_HEARTBEAT_MS, parseDeviceHeartbeat } from '../../policy/devices/heartbeat';

describe('parseDeviceHeartbeat', () => {
  it('reads the seed fields with defaults for region, version, snapshot and period', () => {
    expect(parseDeviceHeartbeat({ device_id: 'door:D-1510', device_type: 'door' })).toEqual({
      ok: true,
      value: {
        deviceId: 'door:D-1510',
        deviceType: 'door',
        region: 'default',
        version: null,
        snapshotNumber: null,
        heartbeatMs: DEFAULT_DEVICE_HEARTBEAT_MS,
      },
    });
    expect(
      parseDeviceHeartbeat({
        device_id: 'robot:R-7',
        device_type: 'robot',
        region: 'eu',
        snapshot_id: 5,
        heartbeat_ms: 5000,
      }),
    ).toMatchObject({ ok: true, value: { region: 'eu', snapshotNumber: 5, heartbeatMs: 5000 } });
  });

  it.each([
    [[], 'heartbeat: expected a JSON object with device_id and device_type'],
    [{ device_id: ' ', device_type: 'door' }, 'heartbeat device_id: device_id must not be empty'],
    [
      { device_id: 'x', device_type: 'evaluator' },
      'heartbeat device_type: device_type evaluator is reserved for evaluators',
    ],
    [
      { device_id: 'x', device_type: 'door', snapshot_id: 0 },
      'heartbeat snapshot_id: snapshot_id must be a positive integer',
    ],
    [
      { device_id: 'x', device_type: 'door', heartbeat_ms: 10 },
      'heartbeat heartbeat_ms: heartbeat_ms must be at least 1000',
    ],
    [{ device_id: 'x', device_type: 'door', target: 'router' }, 'heartbeat unknown key(s) target'],
  ])('refuses %j, saying why', (body, reason) => {
    const parsed = parseDeviceHeartbeat(body);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toContain(reason);
  });
});
