/**
 * What Insightly's REST API v3.1 really does, as data the tool layer checks before any call
 * (DESIGN §4).
 *
 * Sources: Insightly's v3.1 Swagger (https://api.na1.insightly.com/v3.1/swagger/docs/v3.1, read
 * through its OpenAPI conversion, konfig-sdks/openapi-examples insightly/openapi.yaml: request
 * bodies, maxLengths, list parameters brief/skip/top/count_total, /Search field_name/field_value);
 * Insightly's v3.1 introduction page (PUT updates only the fields sent; tags can be written in a
 * record's own POST/PUT); swagger-codegen clients of v3.x (Java sandeep-khanna/insightlycrm-java-api,
 * PHP SternerStuff InsightlyPHP: PIPELINE_ID and STAGE_ID are read-only and change through
 * /{id}/Pipeline and /{id}/PipelineStage; GET /Pipelines, /PipelineStages and their /{id} only;
 * STATUS "Abandoned, Cancelled, Completed, Deferred, In Progress or Not Started"; OPPORTUNITY_STATE
 * "Open, Abandoned, Lost, Suspended, Won"; BID_TYPE "Fixed Bid, Per Hour, Per Day, Per Week, Per Month
 * or Per Year"); field-tested clients (Airbyte's source-insightly: pages of 500 by skip/top, pipelines
 * with FOR_OPPORTUNITIES and FOR_PROJECTS, stages with STAGE_ORDER, plan limits of 1,000 to 100,000
 * requests a day; lukeswade/insightly-mcp's audit against a live pod: 100 records by default, 500 at
 * most, X-Total-Count with count_total, 10 requests a second, X-RateLimit-Limit and
 * X-RateLimit-Remaining on every answer, a 429 with X-RateLimit-Remaining 0 is the daily quota,
 * body dates "yyyy-MM-dd HH:mm:ss", list order by ascending id with no sort parameter; the
 * webMethods and Cloud Elements connectors write title-case statuses); Nango's notes (Basic auth
 * with the key as user name and an empty password; the pod in the API URL).
 *
 * Where Insightly direct differs from seeds 003/004 (what Truto maps for Insightly projects):
 * - stage: writable here on create and update (through the pipeline endpoints, two requests);
 *   the seeds list it only in answers.
 * - tags: writable on update too (v3.1 takes TAGS in PUT); seed 004 supports them on create only.
 *   A tag's id is its name: Insightly tags have no other id.
 * - opportunity: create only, at most one (OPPORTUNITY_ID, "the opportunity the project was made
 *   from"); seed 004 has no opportunity on update either.
 * - close_date is COMPLETED_DATE, the only end date a project has; owner is RESPONSIBLE_USER_ID
 *   (read: the responsible user, else the record owner OWNER_USER_ID).
 * - description is PROJECT_DETAILS, at most 4,000 characters (longer is refused here, not cut).
 * - amount, currency, account and contact: a project has no value, organisation or contact field
 *   in v3.1 (links only), as in the seeds.
 * - status is required on create and takes the six Insightly statuses, as in seed 003; v3.1 spells
 *   them in title case ("In Progress"), answers are read in any case.
 *
 * Where it differs from provider-apis.md §4.2 (written from memory): statuses are title case, not
 * upper case; PIPELINE_ID and STAGE_ID are read-only (as §7 says); the error body is ASP.NET Web
 * API's {"Message": ...} with ModelState for a rejected body (not in the spec: assumed from the
 * stack the spec comes from, read leniently); lists are ordered by id, never by update time, so
 * list_deals and list_projects come in Insightly's order; pipelines are per record kind.
 *
 * Not offered: pipeline and stage writes (the API has none: GET only), deleting deals (no tool
 * deletes deals), statistics (Insightly has no pipeline statistics endpoint), stage probability and
 * colour (a PipelineStage has neither), stage dates (none), an inactive stage status (none).
 *
 * The records around a deal (issue 9). Sources: the v3.1 Swagger through its OpenAPI conversion
 * (paths: /Organisations, /Contacts, /Users and /Users/Search, /Tasks with POST and PUT, /Notes with
 * GET and PUT only, POST /{Opportunities|Organisations|Contacts|Projects|Leads}/{id}/Notes, GET
 * /{...}/{id}/Notes and /Tasks with skip/top/brief/count_total, POST /{Notes|Tasks}/{id}/Links
 * taking APILinkDto {LINK_ID, OBJECT_NAME, OBJECT_ID, LINK_OBJECT_NAME, LINK_OBJECT_ID, ROLE,
 * DETAILS, RELATIONSHIP_ID, IS_FORWARD}; bodies: Organisation {ORGANISATION_NAME (required, 255),
 * WEBSITE, OWNER_USER_ID, PHONE, addresses...}, Contact {FIRST_NAME (required), LAST_NAME,
 * EMAIL_ADDRESS, PHONE, PHONE_MOBILE, PHONE_HOME, PHONE_OTHER, PHONE_ASSISTANT, PHONE_FAX, TITLE,
 * ORGANISATION_ID, OWNER_USER_ID}, Task {TITLE (500), DETAILS (4,000), DUE_DATE, COMPLETED, STATUS,
 * RESPONSIBLE_USER_ID, OWNER_USER_ID, OPPORTUNITY_ID, PROJECT_ID}); the PHP swagger-codegen client
 * of v3.0 (ciaranmahoney/php docs/Api: the same per-record Notes, Tasks and Links endpoints);
 * Airbyte's source-insightly manifest, read against live pods (stream schemas of v3.1 notes:
 * NOTE_ID, TITLE, BODY, OWNER_USER_ID, LINKS; tasks, organisations, contacts, users with USER_ID,
 * FIRST_NAME, LAST_NAME, EMAIL_ADDRESS, ACTIVE); lukeswade/insightly-mcp's audit against a live pod
 * ("Notes has no top-level POST"; link object names are singular: "Organisation", "Contact");
 * Insightly's v3.1 introduction (PUT changes only the fields sent; null clears a field). Where
 * this differs from the unified model and from our notes:
 * - account: an organisation has no industry (refused); its domain is WEBSITE read without scheme,
 *   path or a leading www (EMAILDOMAINS, a subcollection, is not read).
 * - contact: FIRST_NAME is required (the tool layer accepts a last name alone elsewhere); one
 *   email address (a longer list is refused); phones are PHONE, PHONE_MOBILE, PHONE_HOME and
 *   PHONE_OTHER in that order (at most four; an update clears the ones a shorter list leaves out),
 *   the assistant's and fax numbers stay in remote_data.
 * - activities are notes and tasks only (Insightly's events and emails are not mapped); their ids
 *   are note-<id> and task-<id> because the two collections number separately. A note's parents
 *   are links; a task's deal and project are its OPPORTUNITY_ID and PROJECT_ID (the brief of issue
 *   9 assumed links for all), its contact and account links. Insightly needs a title on both: a
 *   missing subject becomes the body's first line. A task is done when COMPLETED; done: true also
 *   sets STATUS Completed, done: false STATUS Not Started. Which endpoint lists a task linked to
 *   an opportunity by field rather than link is not documented: the fake lists both [assumed].
 * - search: Insightly's /Search matches a field's whole value (field_value "the value the field
 *   must equal", per the connectors that use it), so search finds exact names (case-insensitive
 *   assumed: Insightly runs on SQL Server's default collation) and not parts of them; list_accounts,
 *   list_contacts and list_users with `name` find parts (over a whole scan). No search for
 *   pipelines or stages (no endpoint), and no search across collections (no /Search path of its
 *   own was found in v3.1, only /{Collection}/Search).
 * - unknown owner, organisation, contact, deal and project ids of a write are refused before its
 *   first request (Insightly's own answer to them is not documented).
 */
import { DEAL_STATUSES } from '../../crm/model.js';
import { WRITE_FIELDS, type Capabilities } from '../../crm/provider.js';
import { INSIGHTLY_PROJECT_STATUSES } from './map.js';
import { INSIGHTLY_SEARCH } from './search.js';

const DEAL_FIELDS = ['name', 'pipeline_id', 'stage_id', 'amount', 'currency', 'status', 'owner_id', 'account_id', 'close_date'] as const;
const PROJECT_FIELDS = ['name', 'description', 'status', 'close_date', 'owner', 'stage', 'tags', 'custom_fields', 'remote_data'] as const;

/** An organisation has no industry field. */
const ACCOUNT_FIELDS = WRITE_FIELDS.accounts.filter((f) => f !== 'industry');
/** Insightly's notes and tasks. */
const ACTIVITY_TYPES = ['note', 'task'] as const;

const SETTINGS = "create and change them in Insightly's settings.";

export const INSIGHTLY_CAPABILITIES: Capabilities = {
  pipelines: {
    list: true,
    get: true,
    filters: [],
    refusals: {
      create: `Insightly's API cannot create pipelines; ${SETTINGS}`,
      update: `Insightly's API cannot change pipelines; ${SETTINGS}`,
      delete: `Insightly's API cannot delete pipelines; delete them in Insightly's settings.`,
    },
  },
  stages: {
    list: true,
    get: true,
    // All applied by crm-mcp over the (short) list of stages; sort_by takes position and name only.
    filters: ['pipeline_id', 'name', 'status', 'sort_by', 'sort_direction'],
    refusals: {
      create: "Insightly's API cannot create stages; create them in Insightly's settings.",
      update: "Insightly's API cannot change stages; change them in Insightly's settings.",
      delete: "Insightly's API cannot delete stages; delete them in Insightly's settings.",
    },
  },
  deals: {
    list: true,
    get: true,
    create: { supported: DEAL_FIELDS, required: ['name'], enums: { status: DEAL_STATUSES } },
    update: { supported: DEAL_FIELDS, enums: { status: DEAL_STATUSES } },
    filters: ['pipeline_id', 'stage_id', 'status', 'owner_id', 'account_id'],
  },
  projects: {
    list: true,
    get: true,
    create: {
      supported: [...PROJECT_FIELDS, 'opportunity'],
      required: ['name', 'status'],
      enums: { status: INSIGHTLY_PROJECT_STATUSES },
    },
    update: { supported: PROJECT_FIELDS, enums: { status: INSIGHTLY_PROJECT_STATUSES } },
    delete: true,
    filters: ['name', 'status', 'owner_id', 'stage_id'],
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
    create: { supported: WRITE_FIELDS.contacts, required: ['first_name'] },
    update: { supported: WRITE_FIELDS.contacts },
    filters: ['name', 'email', 'account_id', 'owner_id'],
  },
  users: { list: true, get: true, filters: ['name', 'email'] },
  activities: {
    list: true,
    get: true,
    create: { supported: WRITE_FIELDS.activities, required: ['type'], enums: { type: ACTIVITY_TYPES } },
    update: { supported: WRITE_FIELDS.activities, enums: { type: ACTIVITY_TYPES } },
    filters: ['deal_id', 'account_id', 'contact_id', 'project_id', 'type', 'done'],
  },
  search: INSIGHTLY_SEARCH,
};
