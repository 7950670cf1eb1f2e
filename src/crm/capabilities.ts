/**
 * Checks a request against a provider's published capabilities before anything is sent, so the
 * agent hears one precise sentence instead of a remote 422.
 */
import { CrmError, excerpt } from './errors.js';
import type { SearchType } from './model.js';
import { RESOURCES, type Capabilities, type CrmProvider, type Operation, type Resource, type StatsOperations } from './provider.js';

const SINGULAR: Record<Resource, string> = {
  pipelines: 'pipeline',
  stages: 'stage',
  deals: 'deal',
  projects: 'project',
  accounts: 'account',
  contacts: 'contact',
  users: 'user',
  activities: 'activity',
};

const VERB: Record<Operation, string> = {
  list: 'listing',
  get: 'reading',
  create: 'creating',
  update: 'updating',
  delete: 'deleting',
};

/** Operation names the provider supports, per resource (for list_connections and messages). */
export function supportedOperations(caps: Capabilities): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const resource of RESOURCES) {
    const rc = caps[resource];
    if (!rc) continue;
    const ops = (['list', 'get', 'create', 'update', 'delete'] as const).filter((op) => Boolean(rc[op]));
    if (ops.length) out[resource] = ops;
  }
  const stats = Object.entries(caps.stats ?? {})
    .filter(([, on]) => on)
    .map(([k]) => k);
  if (stats.length) out.stats = stats;
  if (caps.search?.length) out.search = [...caps.search];
  return out;
}

/** One sentence: what is not supported (or the provider's own sentence for it, from ResourceCapabilities.refusals), and what this connection does support. */
export function unsupported(provider: CrmProvider, what: string, reason?: string): CrmError {
  const ops = supportedOperations(provider.capabilities);
  const summary = Object.entries(ops).map(([r, o]) => `${r} (${o.join(', ')})`);
  return new CrmError(
    'unsupported',
    reason
      ? `${reason} This connection supports ${summary.length ? list(summary) : 'nothing'}.`
      : `${provider.label} does not support ${what}; this connection supports ${summary.length ? list(summary) : 'nothing'}.`,
  );
}

/** The types of `wanted` this provider searches server-side, and the others. */
export function searchableTypes(provider: CrmProvider, wanted: readonly SearchType[]): { searched: SearchType[]; unsearched: SearchType[] } {
  const can = new Set(provider.search ? (provider.capabilities.search ?? []) : []);
  return { searched: wanted.filter((t) => can.has(t)), unsearched: wanted.filter((t) => !can.has(t)) };
}

const refusal = (provider: CrmProvider, resource: Resource, op: Operation): string | undefined =>
  provider.capabilities[resource]?.refusals?.[op];

/** Throws `unsupported` unless the provider both declares and implements the operation. */
export function requireOperation<R extends Resource>(
  provider: CrmProvider,
  resource: R,
  op: Operation,
): NonNullable<NonNullable<CrmProvider[R]>[Operation]> {
  const declared = provider.capabilities[resource]?.[op];
  const impl = provider[resource]?.[op];
  if (!declared || !impl) throw unsupported(provider, `${VERB[op]} ${resource}`, refusal(provider, resource, op));
  return impl.bind(provider[resource]) as NonNullable<NonNullable<CrmProvider[R]>[Operation]>;
}

export function requireStats<K extends keyof StatsOperations>(
  provider: CrmProvider,
  which: K,
): NonNullable<StatsOperations[K]> {
  const impl = provider.stats?.[which];
  if (!provider.capabilities.stats?.[which] || !impl) {
    throw unsupported(provider, `pipeline ${which} statistics`);
  }
  return impl.bind(provider.stats) as NonNullable<StatsOperations[K]>;
}

/** Present, non-undefined keys of a write input. */
function givenFields(input: object): string[] {
  return Object.entries(input)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
}

/**
 * Rejects fields the provider does not support, missing required fields, and enum values outside
 * the provider's subset. Input keys are the tool's argument names, so messages echo what the
 * agent actually passed.
 */
export function checkWrite(
  provider: CrmProvider,
  resource: Resource,
  op: 'create' | 'update',
  input: object,
): void {
  const rules = provider.capabilities[resource]?.[op];
  if (!rules) throw unsupported(provider, `${VERB[op]} ${resource}`, refusal(provider, resource, op));
  const noun = `${/^[aeiou]/.test(SINGULAR[resource]) ? 'an' : 'a'} ${SINGULAR[resource]}`;
  const given = givenFields(input);
  const extra = given.filter((f) => !rules.supported.includes(f));
  if (extra.length) {
    throw new CrmError(
      'unsupported',
      `${provider.label} does not support ${list(extra.map((f) => `\`${f}\``))} when ${VERB[op]} ${noun}; ` +
        `supported fields: ${rules.supported.join(', ')}.`,
    );
  }
  const missing = (rules.required ?? []).filter((f) => !given.includes(f));
  if (missing.length) {
    const enumHint = missing
      .map((f) => (rules.enums?.[f] ? `; allowed ${f}: ${rules.enums[f].join(', ')}` : ''))
      .join('');
    throw new CrmError(
      'validation',
      `${provider.label} requires ${list(missing.map((f) => `\`${f}\``))} to ${op} ${noun}${enumHint}.`,
    );
  }
  for (const [field, allowed] of Object.entries(rules.enums ?? {})) {
    const value = (input as Record<string, unknown>)[field];
    if (value !== undefined && !allowed.includes(String(value))) {
      throw new CrmError(
        'validation',
        `${provider.label} does not accept ${field} '${excerpt(value)}' for ${noun}; allowed: ${allowed.join(', ')}.`,
      );
    }
  }
}

/** Rejects list filters the provider cannot apply, rather than ignoring them silently. */
export function checkFilters(provider: CrmProvider, resource: Resource, query: object): void {
  const allowed = provider.capabilities[resource]?.filters;
  if (!allowed) return;
  const bad = givenFields(query).filter(
    (f) => !['limit', 'cursor'].includes(f) && !allowed.includes(f),
  );
  if (bad.length) {
    throw new CrmError(
      'unsupported',
      `${provider.label} cannot filter ${resource} by ${list(bad.map((f) => `\`${f}\``))}; ` +
        `available filters: ${allowed.join(', ') || 'none'}.`,
    );
  }
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}
