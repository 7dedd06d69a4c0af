#!/usr/bin/env bash
# Validates the deployment files without a Docker engine:
#   1. docker-compose.yml  with Debian's docker-compose (v1): `docker-compose config -q`
#                          (and with `docker compose` v2 too when that plugin is available)
#   2. prometheus.yml      and its rule files with promtool (`check config`, `check rules`)
#   3. grafana/            every dashboard JSON parses, is well formed (panels with gridPos,
#                          datasource uid `prometheus`), and every metric and label its PromQL
#                          uses is defined in platform/metrics/metrics.ts; the same for the
#                          alert rules; compose/Dockerfile entry points and mounts exist.
# Installs docker-compose / promtool with apt-get the first time (root or sudo); later runs take
# a few seconds. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failures=0
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO=(sudo -n); fi

# apt-get install without letting maintainer scripts start services; updates lists only if needed.
apt_install() {
  local cand
  cand="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')"
  if [[ -z "$cand" || "$cand" == "(none)" ]]; then
    echo "apt: updating package lists"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  fi
  local policy=/usr/sbin/policy-rc.d created=0 rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary: created by scripts/check-deploy.sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 755 "$policy"
    created=1
  fi
  echo "apt: installing $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
  if [[ $created -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi
  return "$rc"
}

# --- 1. docker-compose.yml -------------------------------------------------------------------
step "docker-compose.yml"
if ! command -v docker-compose >/dev/null; then
  apt_install docker-compose || fail "could not install docker-compose with apt-get"
fi
if command -v docker-compose >/dev/null; then
  echo "using $(docker-compose version --short 2>/dev/null | head -n1 | sed 's/^/docker-compose /')"
  if out="$(JWT_SECRET="${JWT_SECRET:-validation-only-secret-0123456789abcdef}" WEBHOOK_SECRET_KEYS="${WEBHOOK_SECRET_KEYS:-validation:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=}" docker-compose -f docker-compose.yml config -q 2>&1)"; then
    ok "docker-compose -f docker-compose.yml config -q"
    echo "services: $(docker-compose -f docker-compose.yml config --services 2>/dev/null | tr '\n' ' ')"
    echo "volumes:  $(docker-compose -f docker-compose.yml config --volumes 2>/dev/null | tr '\n' ' ')"
  else
    printf '%s\n' "$out" >&2
    fail "docker-compose config rejected docker-compose.yml"
  fi
fi
if docker compose version >/dev/null 2>&1; then
  if out="$(docker compose -f docker-compose.yml config -q 2>&1)"; then
    ok "docker compose (v2) config -q"
  else
    printf '%s\n' "$out" >&2
    fail "docker compose (v2) config rejected docker-compose.yml"
  fi
else
  echo "(docker compose v2 plugin not available; checked with v1 only)"
fi

# --- 2. prometheus.yml + rules -----------------------------------------------------------------
step "prometheus.yml"
if ! command -v promtool >/dev/null; then
  bash scripts/servers/install.sh prometheus || fail "could not install prometheus (promtool) with apt-get"
fi
if command -v promtool >/dev/null; then
  echo "using $(promtool --version 2>&1 | head -n1)"
  if promtool check config prometheus.yml; then ok "promtool check config prometheus.yml"; else fail "promtool check config prometheus.yml"; fi
  shopt -s nullglob
  rules=(prometheus/*.yml prometheus/*.yaml)
  shopt -u nullglob
  if [[ ${#rules[@]} -gt 0 ]]; then
    if promtool check rules "${rules[@]}"; then ok "promtool check rules ${rules[*]}"; else fail "promtool check rules ${rules[*]}"; fi
  fi
fi

# --- 3. dashboards, alerts and metric names ---------------------------------------------------
step "Grafana dashboards, alert rules and metric names (vs platform/metrics/metrics.ts)"
if ! node --input-type=module - <<'EOF'; then
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let errors = 0;
const error = (msg) => { errors++; console.error(`FAIL: ${msg}`); };
const ok = (msg) => console.log(`ok: ${msg}`);

// Every metric from platform/metrics/metrics.ts: name, type and label names.
const src = readFileSync('platform/metrics/metrics.ts', 'utf8');
const metrics = new Map(); // series name -> { base, labels:Set }
for (const m of src.matchAll(/new (Histogram|Counter|Gauge|Summary)\(\{([\s\S]*?)\}\)/g)) {
  const [, type, body] = m;
  const name = body.match(/name:\s*'([^']+)'/)?.[1];
  if (!name) continue;
  const labels = new Set([...(body.match(/labelNames:\s*\[([^\]]*)\]/)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((l) => l[1]));
  labels.add('service'); // default label on every series (serviceRegistry)
  if (type === 'Histogram') {
    metrics.set(`${name}_bucket`, { base: name, labels: new Set([...labels, 'le']) });
    metrics.set(`${name}_sum`, { base: name, labels });
    metrics.set(`${name}_count`, { base: name, labels });
  } else {
    metrics.set(name, { base: name, labels });
  }
}
const bases = new Set([...metrics.values()].map((m) => m.base));
if (bases.size === 0) error('no metrics found in platform/metrics/metrics.ts');
console.log(`metrics.ts defines ${bases.size} metrics`);
const targetLabels = ['job', 'instance'];
/** Prometheus' own series per scrape target (1 when the scrape succeeded), labelled job and instance. */
const usesUp = (expr) => /(^|[^a-zA-Z0-9_])up\s*($|[{)\s])/.test(expr);

/** Checks one PromQL expression; returns the storefront metric names it uses. */
function checkExpr(where, expr) {
  const used = [...new Set(expr.match(/\bstorefront_[a-z_]+/g) ?? [])];
  let good = true;
  for (const name of used) {
    if (!metrics.has(name)) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      error(`${where}: ${name} is not a series of platform/metrics/metrics.ts${bases.has(base) ? ` (${base} is a histogram: use _bucket/_sum/_count)` : ''}`);
      good = false;
    }
  }
  const known = used.filter((n) => metrics.has(n));
  // Label matchers inside a selector belong to that metric.
  for (const s of expr.matchAll(/\b(storefront_[a-z_]+)\s*\{([^}]*)\}/g)) {
    const metric = metrics.get(s[1]);
    if (!metric) continue;
    for (const l of s[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) {
      if (!metric.labels.has(l[1]) && !targetLabels.includes(l[1])) {
        error(`${where}: label "${l[1]}" is not a label of ${s[1]} (has: ${[...metric.labels].join(', ')})`);
        good = false;
      }
    }
  }
  // Grouping labels must belong to one of the expression's metrics (skipped if none is known).
  const all = new Set([...targetLabels, ...known.flatMap((n) => [...metrics.get(n).labels])]);
  for (const g of known.length === 0 ? [] : expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const l of g[1].split(',').map((x) => x.trim()).filter(Boolean)) {
      if (!all.has(l)) {
        error(`${where}: grouping label "${l}" is not a label of ${known.join(', ') || 'any metric used'}`);
        good = false;
      }
    }
  }
  for (const lv of expr.matchAll(/label_values\(\s*([a-z_]+)[^,]*,\s*([a-zA-Z_]+)\s*\)/g)) {
    if (!all.has(lv[2])) { error(`${where}: label_values label "${lv[2]}" is not a label of ${lv[1]}`); good = false; }
  }
  return { used: known, names: used, good };
}

// --- dashboards ---
const dir = 'grafana/dashboards';
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
if (files.length === 0) error(`no dashboards in ${dir}`);
const uids = new Set();
const allowedPanels = new Set(['row', 'timeseries', 'stat', 'gauge', 'bargauge', 'table', 'text']);
for (const file of files) {
  const path = `${dir}/${file}`;
  let d;
  try {
    d = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    error(`${path}: invalid JSON: ${e.message}`);
    continue;
  }
  const before = errors;
  if (!d.uid || !d.title) error(`${path}: missing uid or title`);
  if (uids.has(d.uid)) error(`${path}: duplicate dashboard uid ${d.uid}`);
  uids.add(d.uid);
  if (typeof d.schemaVersion !== 'number') error(`${path}: missing schemaVersion`);
  if (!Array.isArray(d.panels) || d.panels.length === 0) error(`${path}: no panels`);
  const panels = (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  const ids = new Set();
  let exprs = 0;
  const used = new Set();
  for (const p of panels) {
    const where = `${path}: panel ${p.id} "${p.title}"`;
    if (ids.has(p.id)) error(`${where}: duplicate panel id`);
    ids.add(p.id);
    if (!allowedPanels.has(p.type)) error(`${where}: unexpected panel type ${p.type}`);
    const g = p.gridPos;
    if (!g || ![g.h, g.w, g.x, g.y].every(Number.isInteger) || g.x + g.w > 24) error(`${where}: missing or invalid gridPos`);
    if (p.type === 'row') continue;
    if (p.datasource?.uid !== 'prometheus') error(`${where}: datasource must be uid "prometheus"`);
    if (!Array.isArray(p.targets) || p.targets.length === 0) error(`${where}: no targets`);
    for (const t of p.targets ?? []) {
      if (t.datasource && t.datasource.uid !== 'prometheus') error(`${where}: target ${t.refId} datasource must be uid "prometheus"`);
      if (typeof t.expr !== 'string' || !t.expr.trim()) { error(`${where}: target ${t.refId} has no expr`); continue; }
      exprs++;
      const r = checkExpr(`${where} [${t.refId}]`, t.expr);
      r.used.forEach((n) => used.add(n));
      if (r.names.length === 0 && !usesUp(t.expr)) error(`${where} [${t.refId}]: expression uses no storefront metric (nor Prometheus' up): ${t.expr}`);
    }
  }
  for (const v of d.templating?.list ?? []) {
    if (v.datasource && v.datasource.uid !== 'prometheus') error(`${path}: variable ${v.name} datasource must be uid "prometheus"`);
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) checkExpr(`${path}: variable ${v.name}`, q);
  }
  // Belt and braces: any storefront_ name anywhere in the file must be a real series.
  for (const n of new Set(JSON.stringify(d).match(/\bstorefront_[a-z_]+/g) ?? [])) {
    if (!metrics.has(n)) error(`${path}: mentions unknown series ${n}`);
  }
  if (errors === before) ok(`${path}: ${panels.length} panels, ${exprs} queries, metrics: ${[...new Set([...used].map((n) => metrics.get(n).base))].sort().join(', ')}`);
}

// --- alert rules ---
for (const path of existsSync('prometheus') ? readdirSync('prometheus').filter((f) => /\.ya?ml$/.test(f)).map((f) => `prometheus/${f}`) : []) {
  const lines = readFileSync(path, 'utf8').split('\n');
  const before = errors;
  let count = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/^(\s*)expr:\s*(.*)$/);
    if (!m) continue;
    let expr = m[2];
    if (/^[|>][-+]?$/.test(expr.trim())) {
      expr = '';
      while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > m[1].length)) expr += ` ${lines[++i].trim()}`;
    }
    count++;
    const r = checkExpr(`${path}:${i + 1}`, expr);
    if (r.names.length === 0 && !usesUp(expr)) error(`${path}:${i + 1}: expression uses no storefront metric (nor Prometheus' up)`);
  }
  if (errors === before) ok(`${path}: ${count} rule expressions use only metrics from metrics.ts`);
}

// --- datasource provisioning ---
const dsPath = 'grafana/provisioning/datasources/prometheus.yml';
if (!existsSync(dsPath) || !/uid:\s*prometheus\b/.test(readFileSync(dsPath, 'utf8'))) error(`${dsPath}: must provision a datasource with uid prometheus`);
else ok(`${dsPath}: datasource uid prometheus`);

// --- compose / Dockerfile entry points and bind mounts ---
const compose = readFileSync('docker-compose.yml', 'utf8');
const dockerfile = existsSync('Dockerfile') ? readFileSync('Dockerfile', 'utf8') : (error('Dockerfile missing'), '');
const entries = new Set([...(compose + dockerfile).matchAll(/"dist\/([^"]+)\.js"/g)].map((m) => m[1]));
for (const e of entries) if (!existsSync(`${e}.ts`)) error(`entry point dist/${e}.js has no source ${e}.ts`);
for (const m of compose.matchAll(/^\s*-\s*\.\/([^:\s]+):/gm)) if (!existsSync(m[1])) error(`docker-compose.yml mounts ./${m[1]}, which does not exist`);
ok(`entry points: ${[...entries].map((e) => `${e}.ts`).join(', ')}; bind mounts exist`);

if (errors > 0) {
  console.error(`${errors} problem(s)`);
  process.exit(1);
}
EOF
  fail "dashboards / alert rules / metric names"
fi

echo
if [[ $failures -gt 0 ]]; then
  echo "check-deploy: $failures check(s) FAILED" >&2
  exit 1
fi
echo "check-deploy: all checks passed"
