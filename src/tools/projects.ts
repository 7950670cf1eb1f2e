import * as z from 'zod';
import {
  boundedList,
  boundedText,
  CurrencyArg,
  FreeForm,
  idArg,
  IsoDate,
  LIMITS,
  NameArg,
  Project,
  PROJECT_STATUSES,
} from '../crm/model.js';
import { createTool, deleteTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { projectLine } from './format.js';

const CONCISE = ['id', 'name', 'status', 'stage', 'amount', 'currency', 'owner', 'account', 'close_date'] as const;

const idRef = z.object({ id: idArg() });
const idRefs = boundedList(idRef, LIMITS.refs);

const projects: ResourceSpec<Project> = {
  resource: 'projects',
  singular: 'project',
  concise: CONCISE,
  line: projectLine,
  fields: {
    name: NameArg.describe('Project name'),
    description: z.string().max(LIMITS.text).optional().describe('Free text'),
    status: z.enum(PROJECT_STATUSES).optional().describe('Allowed values vary by CRM'),
    amount: z.number().optional().describe('Value'),
    currency: CurrencyArg.optional(),
    close_date: IsoDate.optional().describe('Expected close'),
    owner: idRef.optional().describe('User'),
    account: idRef.optional().describe('Account'),
    stage: idRef.optional().describe('Stage'),
    contact: idRefs.optional().describe('Contacts'),
    opportunity: idRefs.optional().describe('Deals'),
    tags: idRefs.optional().describe('Tags'),
    custom_fields: FreeForm.optional().describe('Custom fields'),
    remote_data: FreeForm.optional().describe('Raw fields sent as-is'),
  },
};

export const projectTools = [
  listTool(projects, {
    description: 'Lists projects (delivery work tied to accounts and deals) with status, stage, owner and account.',
    filters: {
      name: boundedText(LIMITS.name).optional().describe('Name contains'),
      status: z.enum(PROJECT_STATUSES).optional().describe('Project status'),
      owner_id: id('Owner (user)').optional(),
      account_id: id('Account').optional(),
      stage_id: id('Stage').optional(),
    },
  }),
  getTool(projects, {
    description: 'One project by id with owner, account, stage, contacts, linked deals, tags and dates.',
  }),
  createTool(projects, {
    description: 'Creates a project. Required fields and allowed statuses differ per CRM and are checked before sending.',
  }),
  updateTool(projects, {
    description: 'Changes a project, sending only the fields given; contact, opportunity and tags replace the list.',
  }),
  deleteTool(projects, { description: 'Deletes a project. Needs confirm: true; without it, shows what would be deleted.' }),
];
