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
 * - Scopes [§3.1, unverified there]: the spec declares no OAuth scopes (only the bearer schemes
 *   `bearerAuth` and `s2sAuthToken`). Outreach's docs give the form `<resource>.<read|write|delete|all>`
 *   and list opportunities.* and users.read, not stages.* or opportunityStages.*; Airbyte's
 *   connector asks for `stages.all` and `opportunityStages.all`. crm-mcp needs stages.all,
 *   opportunityStages.all, opportunities.all, users.read and accounts.read (names only).
 * - Errors: the spec declares 404 (GET by id) and 422 only; 401, 403 (`unauthorizedOauthScope`),
 *   415 and 429 (`rateLimitExceeded`, with Retry-After) come from the docs.
 * - No projects (Outreach is not one of the project CRMs of seeds 003/004), no pipeline statistics
 *   (the spec has no such endpoint), no idempotency key (none in the spec or docs: creates are made
 *   idempotent by crm-mcp's own key store).
 */
import type { Capabilities } from '../../crm/provider.js';

// `color` and `position` (order) on both collections; no probability, no status.
const STAGE_CREATE = ['pipeline_id', 'name', 'position', 'color'] as const;
const STAGE_UPDATE = ['name', 'position', 'color'] as const;
// No `status`: the stage decides it (see above).
const DEAL_FIELDS = ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'owner_id', 'account_id', 'close_date'] as const;

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
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id'],
  },
};
