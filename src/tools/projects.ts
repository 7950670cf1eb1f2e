import * as z from 'zod';
import { checkFilters, checkWrite, requireOperation } from '../crm/capabilities.js';
import { Project, PROJECT_STATUSES } from '../crm/model.js';
import { WRITE_FIELDS, type CrudOperations, type ProjectInput, type ProjectQuery } from '../crm/provider.js';
import {
  defineTool,
  deleteFlow,
  deleteOutput,
  createFlow,
  given,
  writeFields,
  outline,
  id,
  listFlow,
  pageArgs,
  requireSomeField,
  shapeRecord,
  writeFlow,
  writeOutput,
  written,
  type ToolCall,
} from './define.js';
import { projectLine } from './format.js';

type Ops = Required<CrudOperations<Project, ProjectQuery, ProjectInput>>;
const op = <K extends keyof Ops>(call: ToolCall<object>, name: K) =>
  requireOperation(call.provider, 'projects', name) as Ops[K];

const CONCISE = ['id', 'name', 'status', 'stage', 'amount', 'currency', 'owner', 'account', 'close_date'] as const;
const Summary = outline(Project, CONCISE);

const idRef = z.object({ id: z.string() });
const fields = {
  name: z.string().min(1).describe('Project name'),
  description: z.string().optional().describe('Free text'),
  status: z.enum(PROJECT_STATUSES).optional().describe('Allowed values vary by CRM'),
  amount: z.number().optional().describe('Value'),
  currency: z.string().regex(/^[A-Z]{3}$/).optional().describe('ISO 4217'),
  close_date: z.string().optional().describe('YYYY-MM-DD'),
  owner: idRef.optional().describe('User'),
  account: idRef.optional().describe('Account'),
  stage: idRef.optional().describe('Stage'),
  contact: z.array(idRef).optional().describe('Contacts'),
  opportunity: z.array(idRef).optional().describe('Deals'),
  tags: z.array(idRef).optional().describe('Tags'),
  custom_fields: z.record(z.string(), z.unknown()).optional().describe('Custom fields'),
  remote_data: z.record(z.string(), z.unknown()).optional().describe('Raw fields sent as-is'),
};
const FIELD_NAMES = Object.keys(fields);

const shape = (p: Project, call: ToolCall<object>) =>
  shapeRecord(p, call.detailed, CONCISE, Boolean(call.options.include_remote_data));

export const listProjects = defineTool({
  name: 'list_projects',
  title: 'List projects',
  description:
    'Lists projects (delivery work tied to accounts and deals) with status, stage, owner and account.',
  toolset: 'projects',
  kind: 'read',
  remoteQuery: true,
  args: {
    name: z.string().optional().describe('Name contains'),
    status: z.enum(PROJECT_STATUSES).optional().describe('Project status'),
    owner_id: id('Owner (user)').optional(),
    account_id: id('Account').optional(),
    stage_id: id('Stage').optional(),
    ...pageArgs,
  },
  output: { projects: z.array(Summary), next_cursor: z.string().nullable() },
  run(call) {
    const a = call.args;
    const query = given({
      name: a.name,
      status: a.status,
      owner_id: a.owner_id,
      account_id: a.account_id,
      stage_id: a.stage_id,
    });
    checkFilters(call.provider, 'projects', query);
    return listFlow(call, {
      resource: 'projects',
      key: 'projects',
      filters: query,
      fetch: (q) => op(call, 'list')({ ...query, ...q }, call.options),
      line: projectLine,
      shape: (p) => shape(p, call),
    });
  },
});

export const getProject = defineTool({
  name: 'get_project',
  title: 'Get a project',
  description: 'One project by id with owner, account, stage, contacts, linked deals, tags and dates.',
  toolset: 'projects',
  kind: 'read',
  args: { project_id: id('Project') },
  output: { project: Summary },
  async run(call) {
    const p = await op(call, 'get')(call.args.project_id, call.options);
    return { structured: { project: shape(p, call) }, text: `Project ${projectLine(p, true)}` };
  },
});

export const createProject = defineTool({
  name: 'create_project',
  title: 'Create a project',
  description:
    'Creates a project. Required fields and allowed statuses differ per CRM and are checked before sending.',
  toolset: 'projects',
  kind: 'create',
  args: fields,
  output: writeOutput('project'),
  async run(call) {
    const data: ProjectInput = writeFields(call.args, WRITE_FIELDS.projects);
    checkWrite(call.provider, 'projects', 'create', data);
    const prepared = await op(call, 'create')(data, call.options);
    return createFlow(call, 'projects', data, prepared, (p) => ({
      structured: { project: written(p) },
      text: `Created project ${projectLine(p, false)}.`,
    }));
  },
});

export const updateProject = defineTool({
  name: 'update_project',
  title: 'Update a project',
  description:
    'Changes a project, sending only the fields given; contact, opportunity and tags replace the list.',
  toolset: 'projects',
  kind: 'update',
  args: { project_id: id('Project'), ...fields, name: fields.name.optional() },
  output: writeOutput('project'),
  async run(call) {
    const data: ProjectInput = writeFields(call.args, WRITE_FIELDS.projects);
    requireSomeField(data, call.name, FIELD_NAMES);
    checkWrite(call.provider, 'projects', 'update', data);
    const prepared = await op(call, 'update')(call.args.project_id, data, call.options);
    return writeFlow(call, prepared, (p) => ({
      structured: { project: written(p) },
      text: `Updated project ${projectLine(p, true)}.`,
    }));
  },
});

export const deleteProject = defineTool({
  name: 'delete_project',
  title: 'Delete a project',
  description: 'Deletes a project. Needs confirm: true; without it, shows what would be deleted.',
  toolset: 'projects',
  kind: 'delete',
  args: { project_id: id('Project') },
  output: deleteOutput('project'),
  run: (call) => deleteFlow(call, 'projects', 'project', call.args.project_id),
});

export const projectTools = [listProjects, getProject, createProject, updateProject, deleteProject];
