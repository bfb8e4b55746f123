import type { EvaluationInput } from '../policy/engine/evaluation';

/**
 * Realistic live traffic for the hotel-ops examples: mostly routine requests on which every
 * version agrees, plus the share of VIP complaints, allergen orders, warm rooms and lounge entries
 * where v2 changed behaviour on purpose. The mix is a pure function of the request number, so a
 * run is reproducible and the divergence test (test/unit/hotel-ops-traffic.test.ts) measures the
 * same traffic the demo sends.
 */
const GUESTS = 5000;
const ALLERGENS = ['peanut', 'sesame', 'lactose', 'gluten', 'shellfish', 'soy'];
const REQUESTS = ['room_service', 'late_checkout', 'lounge_entry', 'wake_up_call', 'taxi'];
const TIMES = ['morning', 'afternoon', 'evening', 'night', 'late_night'];
const CHANNELS = ['front_desk', 'app', 'phone'];

/** A deterministic fraction in [0, 1) for request i and a salt (a 32-bit integer mix). */
function fraction(i: number, salt: number): number {
  let x = Math.imul(i ^ Math.imul(salt, 0x9e3779b1), 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return (x >>> 0) / 2 ** 32;
}

function pick<T>(items: readonly T[], i: number, salt: number): T {
  return items[Math.floor(fraction(i, salt) * items.length)]!;
}

export function hotelOpsInput(i: number): EvaluationInput {
  const subject = `guest:${Math.floor(fraction(i, 1) * GUESTS)}`;
  const request = pick(REQUESTS, i, 2);
  const tags: string[] = [];
  const signals: Record<string, number> = {};
  const context: Record<string, unknown> = {
    subject,
    domain: fraction(i, 3) < 0.9 ? 'hotel_ops' : 'spa',
    request,
    time_of_day: pick(TIMES, i, 4),
    channel: pick(CHANNELS, i, 5),
  };
  if (fraction(i, 6) < 0.12) {
    tags.push('vip');
    signals.complaint_score = Math.round(fraction(i, 7) * 100) / 100;
  }
  if (fraction(i, 8) < 0.05) {
    tags.push('allergen');
    context.order = { allergen: pick(ALLERGENS, i, 9), dish: 'chef special' };
  }
  if (fraction(i, 10) < 0.1) signals.room_temp_c = 20 + Math.round(fraction(i, 11) * 90) / 10;
  const input: EvaluationInput = { tags, signals, context };
  if (request === 'lounge_entry' && fraction(i, 12) < 0.3) {
    input.facts = [{ predicate: 'hasTemporaryAccess', object: { service: 'lounge' } }];
  }
  return input;
}

/** The `POST /v1/evaluate` body for request i on a lane: routed by guest, so a guest stays on one version. */
export function hotelOpsRequest(i: number, lane: { env: string; target: string; region: string }) {
  const input = hotelOpsInput(i);
  return { input, routing_key: String(input.context?.subject), ...lane };
}
