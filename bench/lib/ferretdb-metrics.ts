/**
 * FerretDB's own figures, from its debug listener (`--debug-addr`, `/debug/metrics`): requests
 * per command, its process CPU time, and its backend pool's waits for a connection. FerretDB
 * v1.24 has no per-command duration histogram (only counters), so the time a command costs the
 * server is read as CPU seconds over a known number of commands, and where that time goes
 * from its CPU profile (`/debug/pprof/profile`, see `profileFerretDB`).
 */
export interface FerretSnapshot {
  cpuSeconds: number;
  requests: Map<string, number>;
  poolWaits: number;
  poolWaitSeconds: number;
}

export async function ferretSnapshot(debugUrl: string): Promise<FerretSnapshot> {
  const response = await fetch(new URL('/debug/metrics', debugUrl));
  if (!response.ok) throw new Error(`${debugUrl}/debug/metrics answered ${response.status}`);
  const snapshot: FerretSnapshot = { cpuSeconds: 0, requests: new Map(), poolWaits: 0, poolWaitSeconds: 0 };
  for (const line of (await response.text()).split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('process_cpu_seconds_total')) snapshot.cpuSeconds = value;
    else if (line.startsWith('ferretdb_client_requests_total{')) {
      const command = /command="([^"]*)"/.exec(line)?.[1] ?? 'unknown';
      snapshot.requests.set(command, (snapshot.requests.get(command) ?? 0) + value);
    } else if (/^ferretdb_\w+_pool_wait_count_total/.test(line)) snapshot.poolWaits += value;
    else if (/^ferretdb_\w+_pool_wait_duration_seconds_total/.test(line)) snapshot.poolWaitSeconds += value;
  }
  return snapshot;
}

export function diffSnapshots(after: FerretSnapshot, before: FerretSnapshot): FerretSnapshot {
  const requests = new Map<string, number>();
  for (const [command, n] of after.requests) {
    const d = n - (before.requests.get(command) ?? 0);
    if (d > 0) requests.set(command, d);
  }
  return { cpuSeconds: after.cpuSeconds - before.cpuSeconds, requests, poolWaits: after.poolWaits - before.poolWaits, poolWaitSeconds: after.poolWaitSeconds - before.poolWaitSeconds };
}

/** Requests as "find 12, update 3, …", most first. */
export function describeRequests(requests: Map<string, number>): string {
  return [...requests].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
}

/** FerretDB's CPU profile over `seconds` (pprof protobuf, gzipped), for `go tool pprof -top`. */
export async function profileFerretDB(debugUrl: string, seconds: number): Promise<Buffer> {
  const response = await fetch(new URL(`/debug/pprof/profile?seconds=${seconds}`, debugUrl));
  if (!response.ok) throw new Error(`${debugUrl}/debug/pprof/profile answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
