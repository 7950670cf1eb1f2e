/**
 * What Outreach really does, as data the tool layer checks before any call (DESIGN §4).
 *
 * Sources: Outreach's published OpenAPI 3.0.3 spec ("Outreach REST API Reference",
 * ../shared/specs/outreach/outreach-openapi.json, checked by test/contract/outreach-spec.test.ts),
 * seed 001 (Outreach's Stage page), provider-apis.md §3 with its §7 corrections, Outreach's
 * developer docs (developers.outreach.io: making requests, OAuth, rate limits).
 *
 * Where Outreach differs from the seeds and from provider-apis.md:
 * - Pipelines: Outreach has none. Its two stage collections stand as two fixed pipelines,
 *   `prospects` (`/stages`, seed 001) and `opportunities` (`/opportunityStages`); they are listed
 *   and read, never created, renamed or deleted. Stage ids say their collection: `p12` is prospect
 *   stage 12, `o12` opportunity stage 12 (ids alone are not unique across the two).
 * - Stages (seed 001, spec `stage`/`opportunityStage`): name, order (-> position), color,
 *   createdAt, updatedAt; no probability and no active/inactive status (status reads `active`);
 *   opportunity stages add `isClosed` and, as provider-apis §7 says, no won/lost flag (the spec has
 *   no "won" anywhere). Every stage write (list, get, create, update, delete) exists for both
 *   collections (spec; §7 corrects §3, which knew only /stages). A stage cannot change collection.
 *   The `prospects` relationship of seed 001 is links-only (`filter[prospects][id]` on /stages).
 * - Deals are opportunities (spec `opportunity`): name, amount (an integer; a fraction is sent in
 *   `amountPrecise` too, and read from it), currencyType, closeDate (a date-time: the model keeps
 *   its date), the writable `opportunityStage` relationship (`stage` is read-only in the spec),
 *   owner (a user), account. Their `probability` has no place in the unified deal (it rides in
 *   remote_data). The spec has DELETE /opportunities/{id}, but the unified tools delete no deal.
 * - Deal status: Outreach has none. A deal in an open stage is `open`; in a closed stage, `won`
 *   when the stage's name holds the word "won" (Outreach's and Salesforce's "Closed Won"),
 *   otherwise `lost`. `status` is never written (the tool says to move the deal to a closed stage
 *   instead); list_deals' status filter asks for the deals in the stages of that status.
 * - Filters and sort (docs; the spec declares no query parameters, §7): `filter[stage][id]` and
 *   `filter[owner][id]` on opportunities (the spec's relationship descriptions), `sort=-updatedAt`;
 *   stages sort by order, name, createdAt, updatedAt (the spec's sortable badges). A stage name
 *   filter is an equality in Outreach, so list_stages' "name contains" is applied here.
 * - Paging [provider-apis §6, unverified there]: the spec declares no page parameters; the docs
 *   give a default page of 50 and 1,000 as the largest offset page (`page[limit]`), and Airbyte's
 *   production Outreach connector sends `page[size]=1000`. crm-mcp asks for 1,000 and follows
 *   `links.next` whatever size the pages come in (a server may cap them).
 * - Accounts (spec `account`): name, domain, industry, the writable `owner` relationship; list,
 *   get, create, update (DELETE exists, unused). A create sends `named: true`: only named accounts
 *   show in Outreach's collection (spec). Filters: `filter[owner][id]` (spec), and the name filter
 *   is `filter[q]`, the docs' name search for accounts and prospects, which matches the START of
 *   names ("acme" finds "Acme Corp", "corp" does not): not the "contains" of the other CRMs.
 * - Contacts are prospects (spec `prospect`): firstName, lastName, `name` (read-only, the full
 *   name), `emails` (a list, filterable: `filter[emails]`), five phone lists (mobile, work, home,
 *   other, voip: `phones` reads them all; a write sets the work phones, and an update empties the
 *   other lists, since the unified list is replaced whole), title, writable `account` and `owner`.
 *   Name filter: `filter[q]`, as for accounts; the email filter is sent lower-cased (`filter[emails]`
 *   is an equality; addresses are stored lower-case in practice).
 * - Users (spec `user`): `name` (read-only), firstName, lastName, email, `locked` (-> active:
 *   false). Outreach filters users only by exact attributes, so list_users and search read the
 *   whole user list (a page of 1,000, cached a minute, only name, email and locked: a user's
 *   remote_data holds just those) and match names here. Read-only here (the spec has POST and
 *   PATCH; the unified tools write no users).
 * - Activities: tasks (`/tasks`), calls (`/calls`) and notes (`/accountNotes`, `/prospectNotes`:
 *   the spec has notes, but only per account and per prospect). No meetings or emails (calendar
 *   events and mailings are other things). No `subject`: no Outreach activity has a title (a
 *   task's text is its `note`, a call's its `note`, a note's its `message`: all `body`).
 *   - A task's one writable parent is `subject` (account, opportunity or prospect); its `account`,
 *     `prospect` and `opportunity` relationships are read-only but filterable. `state` and
 *     `completed` are read-only: `done: true` is POST /tasks/{id}/actions/markComplete; nothing
 *     reopens a task. `dueAt` is a date-time (a due_date is that day at 00:00 UTC).
 *   - A call (no PATCH in the spec: logged calls are not updated) links `prospect`, `opportunity`
 *     and `user` (its owner), filterable by the first two; `associatedId` (account or opportunity)
 *     is read-only and no filter, so calls cannot be listed by account. A call is done.
 *   - A note: `message`, `noteType`; `account` (account notes) or `prospect` (prospect notes),
 *     filterable; `creator` (read-only: the owner shown) and `opportunity` (read-only, no filter:
 *     notes cannot be listed or written by deal).
 * - Search: accounts and contacts by `filter[q]` (contacts by `filter[emails]` for an address),
 *   deals by `filter[name]` (equality: the whole name), users from the user list; pipelines and
 *   stages are not searched (list_stages and get_pipeline show them all).
 * - References: a write naming a user, account, prospect or opportunity is preceded by a read of
 *   each (GET by id): a missing one is refused with unknownReference before anything is written.
 * - Scopes [§3.1, unverified there]: the spec declares no OAuth scopes (only the bearer schemes
 *   `bearerAuth` and `s2sAuthToken`). Outreach's docs give the form `<resource>.<read|write|delete|all>`
 *   and list opportunities, users, accounts, prospects, tasks and calls scopes, not stages,
 *   opportunityStages or notes ones; Airbyte's connector asks for `stages.all` and
 *   `opportunityStages.all`. crm-mcp needs stages.all,
 *   opportunityStages.all, opportunities.all, users.read, accounts.all, prospects.all, tasks.all,
 *   calls.all, accountNotes.all and prospectNotes.all (the last two follow the form; not listed).
 * - Errors: the spec declares 404 (GET by id) and 422 only; 401, 403 (`unauthorizedOauthScope`),
 *   415 and 429 (`rateLimitExceeded`, with Retry-After) come from the docs.
 * - No projects (Outreach is not one of the project CRMs of seeds 003/004), no pipeline statistics
 *   (the spec has no such endpoint), no idempotency key (none in the spec or docs: creates are made
 *   idempotent by crm-mcp's own key store).
 */
import { WRITE_FIELDS, type Capabilities } from '../../crm/provider.js';
import { OUTREACH_SEARCH } from './search.js';

// `color` and `position` (order) on both collections; no probability, no status.
const STAGE_CREATE = ['pipeline_id', 'name', 'position', 'color'] as const;
const STAGE_UPDATE = ['name', 'position', 'color'] as const;
// No `status`: the stage decides it (see above).
const DEAL_FIELDS = ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'owner_id', 'account_id', 'close_date'] as const;

// No `subject` (no Outreach activity has a title) and no projects; a type never changes.
const ACTIVITY_CREATE = ['type', 'body', 'due_date', 'done', 'owner_id', 'deal_id', 'account_id', 'contact_id'] as const;
const ACTIVITY_UPDATE = ACTIVITY_CREATE.filter((f) => f !== 'type');
const ACTIVITY_TYPES = ['task', 'call', 'note'] as const;

export const OUTREACH_CAPABILITIES: Capabilities = {
  pipelines: { list: true, get: true, filters: [] },
  stages: {
    list: true,
    get: true,
    create: { supported: STAGE_CREATE, required: ['pipeline_id', 'name'] },
    update: { supported: STAGE_UPDATE },
    delete: true,
    filters: ['pipeline_id', 'name', 'sort_by', 'sort_direction'],
  },
  deals: {
    list: true,
    get: true,
    create: { supported: DEAL_FIELDS, required: ['name'] },
    update: { supported: DEAL_FIELDS },
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
  },
  accounts: {
    list: true,
    get: true,
    create: { supported: WRITE_FIELDS.accounts, required: ['name'] },
    update: { supported: WRITE_FIELDS.accounts },
    filters: ['name', 'owner_id'],
  },
  contacts: {
    list: true,
    get: true,
    create: { supported: WRITE_FIELDS.contacts },
    update: { supported: WRITE_FIELDS.contacts },
    filters: ['name', 'email', 'account_id', 'owner_id'],
  },
  users: { list: true, filters: ['name', 'email'] },
  activities: {
    list: true,
    get: true,
    create: { supported: ACTIVITY_CREATE, required: ['type'], enums: { type: ACTIVITY_TYPES } },
    update: { supported: ACTIVITY_UPDATE },
    filters: ['deal_id', 'account_id', 'contact_id', 'type', 'done'],
  },
  search: OUTREACH_SEARCH,
};
