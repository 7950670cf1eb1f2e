/**
 * Concise text renderings for LLMs: names with ids in parentheses, one line per record, no JSON
 * dumps. Every line stays short because the model pays for every character.
 */
import type {
  Account,
  Activity,
  Contact,
  ConversionStats,
  Deal,
  DealSummary,
  MovementStats,
  Pipeline,
  Project,
  Ref,
  SearchResult,
  Stage,
  User,
  Values,
} from '../crm/model.js';

export const ref = (r: Ref | null | undefined): string =>
  r ? (r.name ? `${r.name} (${r.id})` : `(${r.id})`) : '—';

const refs = (rs: Ref[] | undefined): string => (rs && rs.length ? rs.map(ref).join(', ') : '');

// Built on first use: constructing it costs ~20 ms, too much for every start-up.
let numberFormat: Intl.NumberFormat | undefined;
const number = (n: number) => (numberFormat ??= new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 })).format(n);

export function money(amount: number | undefined, currency: string | undefined): string {
  if (amount === undefined) return '';
  return currency ? `${number(amount)} ${currency}` : number(amount);
}

export function values(v: Values | undefined): string {
  const parts = Object.entries(v ?? {}).map(([cur, amt]) => money(amt, cur));
  return parts.length ? parts.join(' + ') : '0';
}

const summary = (s: DealSummary | undefined): string =>
  s ? `${s.count} open, ${values(s.values)}` : '';

const date = (ts: string | undefined): string => (ts ? ts.slice(0, 10) : '');

function join(parts: Array<string | undefined | false>): string {
  return parts.filter(Boolean).join(' · ');
}

export function pipelineLine(p: Pipeline, detailed: boolean): string {
  return join([
    ref(p),
    p.stages && `${p.stages.length} stages`,
    detailed && p.is_deal_probability_enabled !== undefined &&
      `probability ${p.is_deal_probability_enabled ? 'on' : 'off'}`,
    detailed && p.updated_at && `updated ${date(p.updated_at)}`,
  ]);
}

export function pipelineDetail(p: Pipeline, detailed: boolean): string {
  const head = join([`Pipeline ${ref(p)}`, p.open_deals && summary(p.open_deals)]);
  const stages = (p.stages ?? []).map(
    (s) =>
      `${s.position}. ${join([
        ref(s),
        s.probability !== undefined && `${s.probability}%`,
        s.status === 'inactive' && 'inactive',
        s.open_deals && summary(s.open_deals),
        detailed && s.color,
      ])}`,
  );
  return [head, ...stages].join('\n');
}

export function stageLine(s: Stage, detailed: boolean): string {
  return join([
    ref(s),
    `#${s.position} in ${ref(s.pipeline)}`,
    s.probability !== undefined && `${s.probability}%`,
    s.status === 'inactive' && 'inactive',
    detailed && s.color,
    detailed && s.updated_at && `updated ${date(s.updated_at)}`,
  ]);
}

export function dealLine(d: Deal, detailed: boolean): string {
  return join([
    ref(d),
    ref(d.stage),
    detailed && `pipeline ${ref(d.pipeline)}`,
    d.status,
    money(d.amount, d.currency),
    d.owner && ref(d.owner),
    detailed && d.account && `account ${ref(d.account)}`,
    detailed && d.close_date && `closes ${d.close_date}`,
    detailed && d.stage_changed_at && `in stage since ${date(d.stage_changed_at)}`,
  ]);
}

export function projectLine(p: Project, detailed: boolean): string {
  return join([
    ref(p),
    p.status,
    p.stage && ref(p.stage),
    money(p.amount, p.currency),
    p.owner && ref(p.owner),
    detailed && p.account && `account ${ref(p.account)}`,
    detailed && p.close_date && `closes ${date(p.close_date)}`,
    detailed && !!p.tags?.length && `tags ${refs(p.tags)}`,
    detailed && !!p.contact?.length && `contacts ${refs(p.contact)}`,
    detailed && !!p.opportunity?.length && `deals ${refs(p.opportunity)}`,
    detailed && p.last_activity_at && `last activity ${date(p.last_activity_at)}`,
    detailed && p.description && `“${p.description}”`,
  ]);
}

const scope = (user: Ref | undefined) => (user ? `, deals owned by ${ref(user)} only` : ', all owners');

export function conversionText(s: ConversionStats): string {
  const lines = s.stage_conversions.map(
    (c) => `${ref(c.from_stage)} → ${ref(c.to_stage)}: ${c.conversion_rate}%`,
  );
  return [
    `Conversion in ${ref(s.pipeline)}, ${s.period.start_date} to ${s.period.end_date}${scope(s.user)}`,
    ...lines,
    `Won: ${s.won_conversion}% · Lost: ${s.lost_conversion}%`,
  ].join('\n');
}

export function movementText(s: MovementStats, detailed = false): string {
  const group = (label: string, g: MovementStats['new_deals'] & { deal_ids_cut?: string }) =>
    `${label}: ${g.count} (${values(g.values)})` +
    (detailed && g.deal_ids.length ? `; deal ids ${g.deal_ids.join(', ')}${g.deal_ids_cut ? ` (${g.deal_ids_cut})` : ''}` : '');
  const ages = s.average_age_in_days.by_stages.map((b) => `${ref(b.stage)} ${b.value} d`);
  return [
    `Movement in ${ref(s.pipeline)}, ${s.period.start_date} to ${s.period.end_date}${scope(s.user)}`,
    `Stage moves: ${s.movements_between_stages.count}`,
    group('New', s.new_deals),
    group('Won', s.won_deals),
    group('Lost', s.lost_deals),
    group('Left open', s.deals_left_open),
    `Average age of open deals: ${s.average_age_in_days.across_all_stages} d` +
      (ages.length ? ` (by stage: ${ages.join(', ')})` : ''),
  ].join('\n');
}

export function accountLine(a: Account, detailed: boolean): string {
  return join([
    ref(a),
    a.domain,
    a.industry,
    a.owner && ref(a.owner),
    detailed && a.updated_at && `updated ${date(a.updated_at)}`,
  ]);
}

export function contactLine(c: Contact, detailed: boolean): string {
  const emails = c.emails ?? [];
  return join([
    ref(c),
    c.title,
    c.account && ref(c.account),
    detailed ? emails.join(', ') : emails[0],
    detailed && !!c.phones?.length && c.phones.join(', '),
    detailed && c.owner && `owner ${ref(c.owner)}`,
  ]);
}

export function userLine(u: User): string {
  return join([ref(u), u.email, u.active === false && 'inactive']);
}

const capitalized = (s: string) => s[0].toUpperCase() + s.slice(1);
/** How much of a note a concise line quotes. */
const BODY_EXCERPT = 60;

/** "Task: Call back (45) · due 2026-03-01 · overdue · Ana Patel (1)"; a note quotes its start. */
export function activityLine(a: Activity, detailed: boolean): string {
  const label = `${capitalized(a.type)}${a.subject ? `: ${a.subject}` : ''} (${a.id})`;
  const body = a.body && (detailed ? a.body : a.body.length > BODY_EXCERPT ? `${a.body.slice(0, BODY_EXCERPT).trimEnd()}…` : a.body);
  const state = a.done === undefined ? undefined : a.done ? 'done' : a.overdue ? 'OVERDUE' : 'open';
  return join([
    label,
    a.due_date ? `due ${a.due_date}` : a.created_at && date(a.created_at),
    state,
    a.owner && ref(a.owner),
    detailed && a.deal && `deal ${ref(a.deal)}`,
    detailed && a.account && `account ${ref(a.account)}`,
    detailed && a.contact && `contact ${ref(a.contact)}`,
    detailed && a.project && `project ${ref(a.project)}`,
    // Concise: a task's subject says enough; a note is its body.
    (detailed || !a.subject) && body && `“${body}”`,
  ]);
}

export function searchLine(r: SearchResult): string {
  return join([`${r.type.replace(/s$/, '')}: ${ref(r)}`, r.detail]);
}
