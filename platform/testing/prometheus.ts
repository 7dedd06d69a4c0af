import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OwnServer } from './own-server.js';
import { freePort } from './system-process.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** The scrape (and rule evaluation) interval of the test's Prometheus: short, so a test waits seconds, not minutes. */
export const SCRAPE_SECONDS = 1;

/**
 * A private Prometheus (Debian's, through scripts/servers) scraping the given targets under the
 * job names of the shipped `prometheus.yml`, with the shipped alert rules — so what it answers is
 * what an operator's Prometheus would, only faster. Every job of `prometheus.yml` must be given a
 * target: a job the test forgot would make its panels empty for the wrong reason.
 */
export class TestPrometheus {
  private constructor(
    readonly url: string,
    private readonly server: OwnServer,
    private readonly dir: string,
  ) {}

  static async start(targets: Record<string, string>): Promise<TestPrometheus> {
    const jobs = shippedJobs().filter((job) => job !== 'prometheus');
    const missing = jobs.filter((job) => !targets[job]);
    if (missing.length > 0) throw new Error(`no target for the job(s) ${missing.join(', ')} of prometheus.yml`);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'test-prometheus-'));
    // JSON is YAML: no YAML writer needed.
    const config = {
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      rule_files: [join(ROOT, 'prometheus/alerts.yml')],
      scrape_configs: [
        { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${port}`] }] },
        ...jobs.map((job) => ({ job_name: job, metrics_path: '/metrics', static_configs: [{ targets: [targets[job]] }] })),
      ],
    };
    const file = join(dir, 'prometheus.yml');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const server = new OwnServer('prometheus', { PROMETHEUS_PORT: String(port), PROMETHEUS_CONFIG: file });
    await server.start();
    return new TestPrometheus(`http://127.0.0.1:${port}`, server, dir);
  }

  async stop(): Promise<void> {
    await this.server.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    // Queries are POSTed (as Grafana's datasource does: long expressions); the listings only answer GET.
    const response = Object.keys(params).length === 0 ? await fetch(`${this.url}/api/v1/${path}`) : await fetch(`${this.url}/api/v1/${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new PromQLError(params.query ?? path, `${body.errorType}: ${body.error}`);
    return body.data;
  }

  /** A range query as a Grafana panel sends it: the series it returns (an error throws `PromQLError`). */
  async queryRange(query: string, startMs: number, endMs: number, stepSeconds = SCRAPE_SECONDS): Promise<RangeSeries[]> {
    const data = await this.api<{ result: RangeSeries[] }>('query_range', { query, start: String(startMs / 1000), end: String(endMs / 1000), step: `${stepSeconds}s` });
    return data.result;
  }

  async query(query: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    return (await this.api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>('query', { query })).result;
  }

  async labelValues(label: string, match: string): Promise<string[]> {
    const response = await fetch(`${this.url}/api/v1/label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match })}`);
    return ((await response.json()) as { data: string[] }).data;
  }

  /** Scrape targets by job, with their health (`up`, `down`, `unknown`). */
  async targets(): Promise<Record<string, string>> {
    const data = await this.api<{ activeTargets: { labels: { job: string }; health: string }[] }>('targets');
    return Object.fromEntries(data.activeTargets.map((t) => [t.labels.job, t.health]));
  }

  /** The alerting rules Prometheus loaded, with their state (`inactive`, `pending`, `firing`). */
  async alertRules(): Promise<AlertRule[]> {
    const data = await this.api<{ groups: { name: string; rules: { type: string; name: string; query: string; state: string; alerts: { labels: Record<string, string>; state: string; activeAt: string }[] }[] }[] }>('rules');
    return data.groups.flatMap((g) => g.rules.filter((r) => r.type === 'alerting').map((r) => ({ group: g.name, name: r.name, query: r.query, state: r.state, alerts: r.alerts })));
  }
}

export class PromQLError extends Error {
  constructor(
    readonly query: string,
    reason: string,
  ) {
    super(`${reason} in ${query}`);
  }
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface AlertRule {
  group: string;
  name: string;
  query: string;
  state: string;
  alerts: { labels: Record<string, string>; state: string; activeAt: string }[];
}

/** The job names of the shipped prometheus.yml. */
export function shippedJobs(): string[] {
  return [...readFileSync(join(ROOT, 'prometheus.yml'), 'utf8').matchAll(/^\s*-\s*job_name:\s*['"]?([\w-]+)/gm)].map((m) => m[1]!);
}

export interface PanelExpression {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  description: string | undefined;
}

interface DashboardJson {
  title: string;
  panels: { title: string; type: string; description?: string; targets?: { refId?: string; expr?: string }[]; panels?: DashboardJson['panels'] }[];
  templating?: { list: DashboardVariable[] };
}

export interface DashboardVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  includeAll?: boolean;
  allValue?: string;
}

/** Every dashboard in grafana/dashboards, parsed. */
export function dashboards(): { file: string; title: string; variables: DashboardVariable[]; expressions: PanelExpression[] }[] {
  const dir = join(ROOT, 'grafana/dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => {
      const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as DashboardJson;
      const panels = json.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
      const expressions = panels.flatMap((p) => (p.targets ?? []).filter((t) => t.expr).map((t) => ({ dashboard: json.title, panel: p.title, refId: t.refId ?? '?', expr: t.expr!, description: p.description })));
      return { file, title: json.title, variables: json.templating?.list ?? [], expressions };
    });
}

/**
 * Grafana's `$__rate_interval`: max(`$__interval` + scrape interval, 4 × scrape interval), where
 * `$__interval` is the range over the panel's data points (at least the scrape interval).
 */
export function rateInterval(rangeMs: number, scrapeSeconds: number, maxDataPoints = 1000): string {
  const interval = Math.max(scrapeSeconds * 1000, Math.ceil(rangeMs / maxDataPoints));
  return `${Math.max(interval + scrapeSeconds * 1000, 4 * scrapeSeconds * 1000)}ms`;
}

/**
 * Substitutes dashboard variables as Grafana does for Prometheus: `$__rate_interval`,
 * `$__interval`, `$__range`, and each variable (`$name`, `${name}`, `[[name]]`) by its value —
 * for a multi-value variable set to "All", its `allValue` or else `(a|b|c)` of its options.
 */
export function substitute(expr: string, variables: Record<string, string>, rangeMs: number, scrapeSeconds: number): string {
  const builtIn: Record<string, string> = {
    __rate_interval: rateInterval(rangeMs, scrapeSeconds),
    __interval: `${Math.max(scrapeSeconds * 1000, Math.ceil(rangeMs / 1000))}ms`,
    __range: `${Math.round(rangeMs / 1000)}s`,
  };
  const all = { ...variables, ...builtIn };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = all[name];
    if (value === undefined) throw new Error(`unknown dashboard variable $${name} in ${expr}`);
    return value;
  });
}

/** The value Grafana gives a variable left at "All": its allValue, or the regex of every option. */
export async function allValue(prometheus: TestPrometheus, variable: DashboardVariable): Promise<string> {
  if (variable.allValue) return variable.allValue;
  const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
  const m = /^label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)$/.exec(query ?? '');
  if (!m) throw new Error(`variable $${variable.name}: only label_values(metric, label) queries are understood, not ${query}`);
  const values = await prometheus.labelValues(m[2]!, m[1]!);
  return `(${values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`;
}

/**
 * The expression without a trailing `or vector(0)` (the way a panel says "empty means zero here"),
 * or undefined when it has none.
 */
export function withoutZeroFallback(expr: string): string | undefined {
  const m = /^([\s\S]*?)\s+or\s+(?:on\s*\(\s*\)\s*)?vector\(0\)\s*$/.exec(expr.trim());
  return m ? m[1] : undefined;
}

/**
 * The left side of an alert's top-level comparison (`<metric expression> > 100` → the metric
 * expression): what must exist for the alert to be able to fire at all. The whole expression is
 * returned when no top-level comparison is found.
 */
export function alertSubject(expr: string): string {
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i]!;
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (depth === 0 && /[<>=!]/.test(ch)) {
      const op = /^(==|!=|>=|<=|>|<)/.exec(expr.slice(i));
      if (op && !(ch === '=' && expr[i - 1] && /[<>=!~]/.test(expr[i - 1]!))) return expr.slice(0, i).trim();
    }
  }
  return expr.trim();
}
