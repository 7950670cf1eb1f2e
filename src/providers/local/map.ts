/**
 * SQLite rows <-> unified model objects. Ids are INTEGER in SQLite and strings in the model; SQL
 * NULLs become absent fields (the model uses optional, not nullable, fields).
 */
import type { Account, Activity, Contact, Deal, DealSummary, Pipeline, Project, Ref, Stage, User, Values } from '../../crm/model.js';
import { compact } from '../../crm/records.js';

/** Currency assumed for an amount stored without one. */
export const DEFAULT_CURRENCY = 'USD';

export interface PipelineRow {
  id: number;
  name: string;
  is_deal_probability_enabled: number;
  created_at: string;
  updated_at: string;
}

export interface StageRow {
  id: number;
  pipeline_id: number;
  name: string;
  position: number;
  status: 'active' | 'inactive';
  probability: number | null;
  color: string | null;
  created_at: string;
  updated_at: string;
}

export interface DealRow {
  id: number;
  name: string;
  stage_id: number;
  status: 'open' | 'won' | 'lost';
  amount: number | null;
  currency: string | null;
  owner_id: number | null;
  account_id: number | null;
  close_date: string | null;
  stage_changed_at: string;
  created_at: string;
  updated_at: string;
}

export interface ProjectRow {
  id: number;
  name: string;
  description: string | null;
  status: NonNullable<Project['status']> | null;
  amount: number | null;
  currency: string | null;
  close_date: string | null;
  owner_id: number | null;
  account_id: number | null;
  stage_id: number | null;
  custom_fields: string | null;
  last_activity_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface UserRow {
  id: number;
  name: string;
  email: string | null;
  active: number;
  created_at: string;
  updated_at: string;
}

export interface AccountRow {
  id: number;
  name: string;
  domain: string | null;
  industry: string | null;
  owner_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface ContactRow {
  id: number;
  name: string;
  first_name: string | null;
  last_name: string | null;
  /** JSON arrays of text. */
  emails: string;
  phones: string;
  title: string | null;
  account_id: number | null;
  owner_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface ActivityRow {
  id: number;
  type: Activity['type'];
  subject: string | null;
  body: string | null;
  due_date: string | null;
  done: number | null;
  owner_id: number | null;
  deal_id: number | null;
  account_id: number | null;
  contact_id: number | null;
  project_id: number | null;
  created_at: string;
  updated_at: string;
}

export interface DealEventRow {
  id: number;
  deal_id: number;
  at: string;
  kind: 'created' | 'moved' | 'won' | 'lost' | 'reopened';
  from_stage_id: number | null;
  to_stage_id: number | null;
}

/** Joined names are selected under a `j_` prefix so the raw row stays separable for remote_data. */
export interface StageJoined extends StageRow {
  j_pipeline_name: string;
}
export interface DealJoined extends DealRow {
  j_pipeline_id: number;
  j_pipeline_name: string;
  j_stage_name: string;
  j_owner_name: string | null;
  j_account_name: string | null;
}
export interface ProjectJoined extends ProjectRow {
  j_owner_name: string | null;
  j_account_name: string | null;
  j_stage_name: string | null;
}

export interface AccountJoined extends AccountRow {
  j_owner_name: string | null;
}
export interface ContactJoined extends ContactRow {
  j_account_name: string | null;
  j_owner_name: string | null;
}
export interface ActivityJoined extends ActivityRow {
  j_owner_name: string | null;
  j_deal_name: string | null;
  j_account_name: string | null;
  j_contact_name: string | null;
  j_project_name: string | null;
}

/** The related records of one project, from its join tables. */
export interface ProjectLinks {
  contact: Ref[];
  opportunity: Ref[];
  tags: Ref[];
}

export const STAGE_SELECT = `SELECT s.*, p.name AS j_pipeline_name FROM stages s JOIN pipelines p ON p.id = s.pipeline_id`;

export const DEAL_SELECT = `SELECT d.*, s.pipeline_id AS j_pipeline_id, p.name AS j_pipeline_name, s.name AS j_stage_name,
  u.name AS j_owner_name, a.name AS j_account_name
FROM deals d
JOIN stages s ON s.id = d.stage_id
JOIN pipelines p ON p.id = s.pipeline_id
LEFT JOIN users u ON u.id = d.owner_id
LEFT JOIN accounts a ON a.id = d.account_id`;

export const PROJECT_SELECT = `SELECT pr.*, u.name AS j_owner_name, a.name AS j_account_name, s.name AS j_stage_name
FROM projects pr
LEFT JOIN users u ON u.id = pr.owner_id
LEFT JOIN accounts a ON a.id = pr.account_id
LEFT JOIN stages s ON s.id = pr.stage_id`;

export const ACCOUNT_SELECT = `SELECT a.*, u.name AS j_owner_name FROM accounts a LEFT JOIN users u ON u.id = a.owner_id`;

export const CONTACT_SELECT = `SELECT c.*, a.name AS j_account_name, u.name AS j_owner_name
FROM contacts c
LEFT JOIN accounts a ON a.id = c.account_id
LEFT JOIN users u ON u.id = c.owner_id`;

export const ACTIVITY_SELECT = `SELECT x.*, u.name AS j_owner_name, d.name AS j_deal_name, a.name AS j_account_name,
  c.name AS j_contact_name, pr.name AS j_project_name
FROM activities x
LEFT JOIN users u ON u.id = x.owner_id
LEFT JOIN deals d ON d.id = x.deal_id
LEFT JOIN accounts a ON a.id = x.account_id
LEFT JOIN contacts c ON c.id = x.contact_id
LEFT JOIN projects pr ON pr.id = x.project_id`;

export const idOf = (n: number | bigint): string => String(n);

function ref(id: number | null, name: string | null): Ref | undefined {
  if (id === null || id === undefined) return undefined;
  return name === null || name === undefined ? { id: idOf(id) } : { id: idOf(id), name };
}

/** The raw SQLite row without the joined `j_` columns. */
export function rawRow(row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!k.startsWith('j_')) out[k] = v;
  return out;
}

const orUndef = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

export function toPipeline(row: PipelineRow, remote: boolean): Pipeline {
  return compact({
    id: idOf(row.id),
    name: row.name,
    is_deal_probability_enabled: row.is_deal_probability_enabled === 1,
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function toStage(row: StageJoined, remote: boolean): Stage {
  return compact({
    id: idOf(row.id),
    name: row.name,
    pipeline: { id: idOf(row.pipeline_id), name: row.j_pipeline_name },
    position: row.position,
    status: row.status,
    probability: orUndef(row.probability),
    color: orUndef(row.color),
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function toDeal(row: DealJoined, remote: boolean): Deal {
  return compact({
    id: idOf(row.id),
    name: row.name,
    status: row.status,
    pipeline: { id: idOf(row.j_pipeline_id), name: row.j_pipeline_name },
    stage: { id: idOf(row.stage_id), name: row.j_stage_name },
    amount: orUndef(row.amount),
    currency: orUndef(row.currency) ?? (row.amount === null ? undefined : DEFAULT_CURRENCY),
    owner: ref(row.owner_id, row.j_owner_name),
    account: ref(row.account_id, row.j_account_name),
    close_date: orUndef(row.close_date),
    stage_changed_at: row.stage_changed_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function parseCustomFields(text: string | null): Record<string, unknown> | undefined {
  if (text === null) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function toProject(row: ProjectJoined, links: ProjectLinks, remote: boolean): Project {
  return compact({
    id: idOf(row.id),
    name: row.name,
    description: orUndef(row.description),
    status: orUndef(row.status),
    amount: orUndef(row.amount),
    currency: orUndef(row.currency) ?? (row.amount === null ? undefined : DEFAULT_CURRENCY),
    close_date: orUndef(row.close_date),
    owner: ref(row.owner_id, row.j_owner_name),
    account: ref(row.account_id, row.j_account_name),
    contact: links.contact,
    opportunity: links.opportunity,
    stage: ref(row.stage_id, row.j_stage_name),
    tags: links.tags,
    custom_fields: parseCustomFields(row.custom_fields),
    last_activity_at: orUndef(row.last_activity_at),
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function toUser(row: UserRow, remote: boolean): User {
  return compact({
    id: idOf(row.id),
    name: row.name,
    email: orUndef(row.email),
    active: row.active === 1,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function toAccount(row: AccountJoined, remote: boolean): Account {
  return compact({
    id: idOf(row.id),
    name: row.name,
    domain: orUndef(row.domain),
    industry: orUndef(row.industry),
    owner: ref(row.owner_id, row.j_owner_name),
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

/** A JSON array column as a list of text; anything else (a file edited by hand) as none. */
export function textList(json: string | null): string[] {
  if (json === null) return [];
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

export function toContact(row: ContactJoined, remote: boolean): Contact {
  const emails = textList(row.emails);
  const phones = textList(row.phones);
  return compact({
    id: idOf(row.id),
    name: row.name,
    first_name: orUndef(row.first_name),
    last_name: orUndef(row.last_name),
    emails: emails.length ? emails : undefined,
    phones: phones.length ? phones : undefined,
    title: orUndef(row.title),
    account: ref(row.account_id, row.j_account_name),
    owner: ref(row.owner_id, row.j_owner_name),
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

export function toActivity(row: ActivityJoined, remote: boolean): Activity {
  return compact({
    id: idOf(row.id),
    type: row.type,
    subject: orUndef(row.subject),
    body: orUndef(row.body),
    due_date: orUndef(row.due_date),
    done: row.done === null ? undefined : row.done === 1,
    owner: ref(row.owner_id, row.j_owner_name),
    deal: ref(row.deal_id, row.j_deal_name),
    account: ref(row.account_id, row.j_account_name),
    contact: ref(row.contact_id, row.j_contact_name),
    project: ref(row.project_id, row.j_project_name),
    created_at: row.created_at,
    updated_at: row.updated_at,
    remote_data: remote ? rawRow(row) : undefined,
  });
}

/** A person's name from its parts, as the CRM shows it. */
export const fullName = (first: string | null | undefined, last: string | null | undefined): string =>
  [first, last].filter((p) => p && p.trim()).join(' ');

/** Adds one amount to a per-currency total. */
export function addValue(values: Values, amount: number | null, currency: string | null): void {
  if (amount === null || amount === undefined) return;
  const cur = currency ?? DEFAULT_CURRENCY;
  values[cur] = roundMoney((values[cur] ?? 0) + amount);
}

/** Keeps sums of cents free of binary float noise. */
export const roundMoney = (n: number): number => Math.round(n * 100) / 100;

export const emptySummary = (): DealSummary => ({ count: 0, values: {} });

/** "Name (id)" — how every message and listing names a record. */
export const named = (name: string, id: number | string): string => `${name} (${id})`;
