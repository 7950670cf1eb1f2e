/**
 * What crm-mcp does on Capsule, as data the tool layer checks before any call (DESIGN §4).
 * Sources: Capsule's API v2 docs (developer.capsulecrm.com/v2: operations Project, Opportunity,
 * Pipeline, Milestone, Board, Stage, Filter; models Project, Opportunity; reference/filters;
 * overview/handling-api-responses), Capsule's support page on Lost Reasons
 * (capsulecrm.com/support/lost-reason-update-process), and, marked "live", the notes of a
 * connector tested against the live API (GitHub soil-dev/capsulemcp, NOTES-ON-CAPSULE-API.md).
 *
 * Pipelines and stages. Capsule has two kinds: sales pipelines with milestones (opportunities
 * stand in them) and project boards with stages (projects stand in them). Both are listed as
 * pipelines and stages; boards and their stages carry a prefix ("board-34", "stage-149") so that
 * no id means both a milestone and a board stage, and deals take only milestones, projects only
 * board stages (map.ts says which, in one sentence, before anything is sent). get_pipeline counts
 * open deals per milestone for a sales pipeline; a board holds projects, so it shows none.
 * Read only here: Capsule's API writes pipelines, milestones, boards and stages too (an
 * Administrator's account settings), but crm-mcp does not offer those writes for Capsule yet.
 *
 * Deals (opportunities). Won and lost are Capsule's closing milestones (`complete: true`: Won at
 * probability 100, Lost at 0, Milestone docs); a deal reads as open until Capsule sets its
 * `closedOn`, then won at probability 100, lost otherwise (Capsule snaps it to the milestone's,
 * live). update_deal's status moves the deal to its own pipeline's Won or Lost milestone, or back
 * to its `lastOpenMilestone`. A deal is created open (status refused on create; give the stage_id
 * of a closing milestone to record a closed one). An opportunity names no pipeline and Capsule
 * accepts a milestone of another pipeline (live, §26), so placement is checked here and by the
 * tool layer over stages.list. `amount` goes with `currency` (Capsule refuses an amount alone,
 * provider-apis §7). A party (account_id) is required on create (Opportunity model).
 *
 * Projects, against seeds 003 (create) and 004 (update), which describe what Truto maps:
 *  - account is required on create here (Project model: party Required); the seeds say supported.
 *  - stage is writable here (request `stage: <id>`, provider-apis §4.1); the seeds list it only in
 *    answers. owner is writable on update too (Project model, PUT); seed 004 does not list it.
 *  - contact is not offered: Capsule links more parties through their own endpoints
 *    (`/kases/{id}/parties/{partyId}`), not the project body; the seeds list it.
 *  - custom_fields are read (embed=fields, keyed by field name) but not written: Capsule writes
 *    them by definition id, which the read does not show; the seeds list them on both.
 *  - opportunity holds one deal at most (the model has a single nested opportunity).
 *  - status open|closed <-> OPEN|CLOSED, as the seeds say; tags replace the list on update.
 *  - no amount or currency (the seeds agree).
 *
 * Against provider-apis.md: its §7 says Capsule makes the token's user the owner of a project
 * created without owner or team; live notes (§28) found the owner left empty and a board's team
 * set instead. crm-mcp sends only what the caller gives and shows what Capsule answers.
 * Confirmed from the docs: `perPage` 1 to 100 with the next page in a `Link` header; 4,000
 * requests an hour per user with X-RateLimit-Limit/Remaining/Reset (epoch seconds) and a 429
 * `{"error": "rate limit reached"}` without Retry-After; milestones per pipeline at
 * `/pipelines/{id}/milestones` (plain `/milestones` lists only the oldest pipeline's).
 *
 * Filters: GET listings take none, so filters go to `POST /{entity}/filters/results`. Deals:
 * pipeline, owner, status (isOpen; won/lost by probability), stage (its pipeline and milestone
 * name, the reference types milestone as a string; the page then keeps that milestone's deals).
 * Projects: name (contains), status, owner, stage; the account has no filter field, so account_id
 * is served by `GET /parties/{id}/kases` and only alone. Stages are filtered and sorted here over
 * the whole (short) listing; their status is refused: Capsule lists only active ones.
 *
 * No statistics: Capsule's API v2 has no pipeline conversion or movement endpoint.
 *
 * The records around a deal (issue 9). Sources: Capsule's API v2 docs (operations Party, User,
 * Entry, Task, Search; models Party, User, Entry, Task), the live notes of soil-dev/capsulemcp
 * (NOTES-ON-CAPSULE-API.md §18, §28; its entries and tasks tools), and withone.ai's pages on the
 * same operations where Capsule's own page was cut short.
 *  - Accounts are organisations and contacts are people: both are Capsule parties (`/parties`,
 *    `{party}`/`{parties}`), so a list is always a structured search with `type` (Filter
 *    reference: party fields name, email, type, owner), and an id of the other kind is no
 *    account (or contact). An organisation's people only `GET /parties/{id}/people` lists, so a
 *    contact's account_id is served alone. A contact's title is Capsule's `jobTitle` (its `title`
 *    is Mr/Ms); its account, `organisation` (which must be an organisation: live notes, create_party).
 *    An account's domain is its first web address (`websites`, service URL), rewritten in place on
 *    update; Capsule has no industry (only custom fields), so it is refused. Emails and phones
 *    replace the lists on update: the party is read first and dropped addresses go with
 *    `"_delete": true` (Party docs; live §18: not `_destroy`).
 *  - Users: `GET /users` answers all of them at once (no paging documented), with its own party
 *    for the email address (embed=party); filtered here. Read only.
 *  - Activities: entries and tasks, each on one party, opportunity or project ("only one of
 *    party, opportunity or kase can be not null", Task model; live: POST /entries answers 422 to
 *    two), so a create naming two parents is refused; an account_id or contact_id is a party of
 *    either kind, read back as the account (an organisation) or the contact (a person). Parents
 *    are not changed by update_activity (Capsule's docs say nothing of moving an entry or a task).
 *    Ids carry a prefix: entry-12, task-493 (numbered apart).
 *    - Notes: `POST /entries` creates notes only (`{entry: {type: "note", content, party|
 *      opportunity|kase}}`); recorded emails are listed as type email (subject and body) and can
 *      be edited, not created. A note has no subject of its own (live: PUT stores none on a note),
 *      so a subject given with a note becomes the first line of its text. Capsule makes the
 *      token's user a note's author: owner_id is refused for notes.
 *    - Tasks: description is the subject (required), detail the body, `dueOn` the due date
 *      (required, Task model), status OPEN/COMPLETED is done, owner (the token's user when none is
 *      given, live §28). PENDING tasks (no longer relevant, e.g. on a closed opportunity) are not
 *      listed.
 *    - Listing: a record's entries come from `GET /{parties|opportunities|kases}/{id}/entries`
 *      (perPage 1 to 50 there, Entry docs); tasks only from `GET /tasks`, which filters by status
 *      alone (no parent, no owner), so a record's tasks are found among every open (and, unless
 *      done: false, completed) task. Both are read whole and merged newest first (created_at)
 *      under one cursor; a walk cut short (10,000 records) says the list is incomplete. Notes and
 *      emails without a record are refused (the account's whole timeline is not walked);
 *      type: task lists tasks across the account. The entries Capsule adds for completed tasks
 *      are left out: the task itself is listed. Calls and meetings: Capsule has none as types
 *      (it logs them as notes with an activity type).
 *  - Search: Capsule's own search, the global search of its web app (`GET /opportunities/search`,
 *    `/kases/search`, `/parties/search`, `q`, Search docs), for deals, projects, accounts and
 *    contacts (one parties search answers both). Users, pipelines and stages have none.
 *  - list_deals takes account_id through `GET /parties/{id}/opportunities` (the opportunity
 *    filters have no party field); its other filters are then applied here, page by page.
 *  - Ids a write refers to (owner, account, contact, and an activity's record) are checked when
 *    it is sent, never on a dry run: a user among the account's users, a party, opportunity or
 *    project by reading it; unknown ones are refused with unknownReference's sentence.
 */
import { DEAL_STATUSES } from '../../crm/model.js';
import type { Capabilities } from '../../crm/provider.js';

const DEAL_FIELDS = ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'owner_id', 'account_id', 'close_date'] as const;
const ACCOUNT_FIELDS = ['name', 'domain', 'owner_id'] as const;
const CONTACT_FIELDS = ['first_name', 'last_name', 'emails', 'phones', 'title', 'account_id', 'owner_id'] as const;
const ACTIVITY_FIELDS = ['subject', 'body', 'due_date', 'done', 'owner_id'] as const;
const ACTIVITY_PARENTS = ['deal_id', 'account_id', 'contact_id', 'project_id'] as const;
const PROJECT_FIELDS = ['name', 'description', 'status', 'close_date', 'owner', 'account', 'stage', 'opportunity', 'tags'] as const;
const PROJECT_STATUSES = ['open', 'closed'] as const;

export const CAPSULE_CAPABILITIES: Capabilities = {
  pipelines: { list: true, get: true, filters: [] },
  stages: { list: true, get: true, filters: ['pipeline_id', 'name', 'sort_by', 'sort_direction'] },
  deals: {
    list: true,
    get: true,
    create: { supported: DEAL_FIELDS, required: ['name', 'stage_id', 'account_id'] },
    update: { supported: [...DEAL_FIELDS, 'status'], enums: { status: DEAL_STATUSES } },
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
  },
  projects: {
    list: true,
    get: true,
    create: { supported: PROJECT_FIELDS, required: ['name', 'account'], enums: { status: PROJECT_STATUSES } },
    update: { supported: PROJECT_FIELDS, enums: { status: PROJECT_STATUSES } },
    delete: true,
    filters: ['name', 'status', 'owner_id', 'account_id', 'stage_id'],
  },
  accounts: {
    list: true,
    get: true,
    create: { supported: ACCOUNT_FIELDS, required: ['name'] },
    update: { supported: ACCOUNT_FIELDS },
    filters: ['name', 'owner_id'],
  },
  contacts: {
    list: true,
    get: true,
    create: { supported: CONTACT_FIELDS },
    update: { supported: CONTACT_FIELDS },
    filters: ['name', 'email', 'account_id', 'owner_id'],
  },
  users: { list: true, get: true, filters: ['name', 'email'] },
  activities: {
    list: true,
    get: true,
    create: { supported: ['type', ...ACTIVITY_FIELDS, ...ACTIVITY_PARENTS], required: ['type'], enums: { type: ['note', 'task'] } },
    update: { supported: ACTIVITY_FIELDS },
    filters: [...ACTIVITY_PARENTS, 'type', 'done'],
  },
  // Capsule's own search (search.ts); users, pipelines and stages have none.
  search: ['deals', 'accounts', 'contacts', 'projects'],
  // No stats: Capsule has no pipeline statistics endpoint; `stats` stays undefined so the tool layer says so.
};
