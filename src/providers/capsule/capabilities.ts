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
 */
import { DEAL_STATUSES } from '../../crm/model.js';
import type { Capabilities } from '../../crm/provider.js';

const DEAL_FIELDS = ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'owner_id', 'account_id', 'close_date'] as const;
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
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id'],
  },
  projects: {
    list: true,
    get: true,
    create: { supported: PROJECT_FIELDS, required: ['name', 'account'], enums: { status: PROJECT_STATUSES } },
    update: { supported: PROJECT_FIELDS, enums: { status: PROJECT_STATUSES } },
    delete: true,
    filters: ['name', 'status', 'owner_id', 'account_id', 'stage_id'],
  },
  // No stats: Capsule has no pipeline statistics endpoint; `stats` stays undefined so the tool layer says so.
};
