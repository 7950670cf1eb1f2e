import { Account, boundedText, LIMITS, NameArg } from '../crm/model.js';
import { createTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { accountLine } from './format.js';

const CONCISE = ['id', 'name', 'domain', 'industry', 'owner'] as const;

const accounts: ResourceSpec<Account> = {
  resource: 'accounts',
  singular: 'account',
  concise: CONCISE,
  line: accountLine,
  fields: {
    name: NameArg.describe('Account name'),
    domain: boundedText(LIMITS.name).optional().describe('Web domain, e.g. acme.com'),
    industry: boundedText(LIMITS.name).optional().describe('Industry'),
    owner_id: id('User').optional(),
  },
};

export const accountTools = [
  listTool(accounts, {
    description: 'Lists accounts (organizations, companies): name (id), domain, industry, owner. search finds one by name.',
    filters: {
      name: boundedText(LIMITS.name).optional().describe('Name contains'),
      owner_id: id('Owner (user)').optional(),
    },
  }),
  getTool(accounts, { description: 'One account by id: domain, industry, owner and dates.' }),
  createTool(accounts, { description: 'Creates an account; owner_id from list_users or search.' }),
  updateTool(accounts, { description: 'Changes an account, sending only the fields given.' }),
];
