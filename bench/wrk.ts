import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** The load client every HTTP benchmark shares: wrk, one thread, request bodies taken in turn. */
const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  p50ms: number;
  p99ms: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
}

/** A wrk Lua script that POSTs the given JSON bodies in turn, with `headers` besides the content type. */
export function wrkScript(bodies: string[], headers: Record<string, string> = {}): string {
  const extra = Object.entries(headers)
    .map(([name, value]) => `, [ [==[${name}]==] ] = [==[${value}]==]`)
    .join('');
  return `local bodies = {\n${bodies.map((b) => `[==[${b}]==]`).join(',\n')}\n}
local reqs = {}
local n = 0
init = function(args)
  for i, b in ipairs(bodies) do reqs[i] = wrk.format("POST", nil, {["Content-Type"] = "application/json"${extra}}, b) end
end
request = function()
  n = n + 1
  return reqs[(n % #reqs) + 1]
end
`;
}

export async function runWrk(url: string, script: string, seconds: number, connections: number): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], {
    timeout: seconds * 1000 + 60_000,
  });
  const number = (pattern: RegExp) => Number(stdout.match(pattern)?.[1] ?? 0);
  const ms = (label: string) => {
    const match = stdout.match(new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm'));
    if (!match) return NaN;
    return Number(match[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[match[2]!]!;
  };
  const socket = stdout.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    rps: number(/Requests\/sec:\s+([\d.]+)/),
    p50ms: ms('50'),
    p99ms: ms('99'),
    requests: number(/(\d+) requests in/),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}
