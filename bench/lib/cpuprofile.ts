/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time grouped by package / dist file,
 * and the hottest functions. Used to say what dominates a missed target.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled CPU time (idle excluded) in the window, ms. */
  totalMs: number;
  /** Work units done in the window (e.g. tool calls), when the caller knows: totalMs / units = CPU per unit. */
  units?: number;
  /** Self time per group: "zod", "express", "dist/tools/define.js", "node:internal", "(gc)", ... */
  byGroup: Array<{ group: string; ms: number; pct: number }>;
  byFunction: Array<{ fn: string; group: string; ms: number; pct: number }>;
  /** Inclusive (self + callees) time of this project's and the MCP SDK's functions. */
  inclusive: Array<{ fn: string; group: string; ms: number; pct: number }>;
}

const fnKey = (n: ProfileNode): string => {
  const { url, functionName, lineNumber } = n.callFrame;
  return `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}` : ''}`.trim();
};

export function groupOf(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return '(gc)';
    if (fn === '(idle)') return '(idle)';
    if (fn === '(program)') return '(program: native, compile)';
    return `(${fn || 'anonymous'})`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) return nm[1];
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist && !url.includes('node_modules')) return `dist/${dist[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '');
}

/** A CLOCK_MONOTONIC timestamp in µs, the clock V8 stamps profile samples with (Linux). */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * @param sinceUs only samples taken at or after this monoUs() (another process's clock is the same
 *   CLOCK_MONOTONIC on Linux), e.g. to leave out start-up and warm-up.
 */
export function summarizeProfile(file: string, top = 12, sinceUs = 0, untilUs = Number.POSITIVE_INFINITY): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let ts = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    ts += p.timeDeltas[i] ?? 0;
    if (ts < sinceUs || ts > untilUs) continue;
    const dt = (p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0) / 1000;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
  }
  const groups = new Map<string, number>();
  const fns = new Map<string, { group: string; ms: number }>();
  let total = 0;
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { url, functionName, lineNumber } = n.callFrame;
    const g = groupOf(url, functionName);
    if (g === '(idle)') continue;
    total += t;
    groups.set(g, (groups.get(g) ?? 0) + t);
    void lineNumber;
    const key = fnKey(n);
    const f = fns.get(key) ?? { group: g, ms: 0 };
    f.ms += t;
    fns.set(key, f);
  }
  // Inclusive time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, { group: string; ms: number }>();
  for (const [id, t] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const g = groupOf(n.callFrame.url, n.callFrame.functionName);
      if (g === '(idle)') break;
      if (!(g.startsWith('dist/') || g.startsWith('@modelcontextprotocol/'))) continue;
      const k = fnKey(n);
      if (seen.has(k)) continue;
      seen.add(k);
      const e = incl.get(k) ?? { group: g, ms: 0 };
      e.ms += t;
      incl.set(k, e);
    }
  }
  const pct = (ms: number) => (total ? (ms / total) * 100 : 0);
  return {
    file,
    totalMs: total,
    byGroup: [...groups]
      .map(([group, ms]) => ({ group, ms, pct: pct(ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
    byFunction: [...fns]
      .map(([fn, v]) => ({ fn: fn.trim(), group: v.group, ms: v.ms, pct: pct(v.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
    inclusive: [...incl]
      .map(([fn, v]) => ({ fn, group: v.group, ms: v.ms, pct: pct(v.ms) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top),
  };
}

/** The newest .cpuprofile written into `dir`. */
export function profileIn(dir: string): string | undefined {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  return files.length ? join(dir, files.sort().at(-1) as string) : undefined;
}
