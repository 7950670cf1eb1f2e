import { boundedText, EmailArg, LIMITS, User } from '../crm/model.js';
import { listTool, type ResourceSpec } from './crud.js';
import { userLine } from './format.js';

const users: ResourceSpec<User> = {
  resource: 'users',
  // Always on: every owner_id of every other tool comes from here.
  toolset: 'core',
  singular: 'user',
  concise: ['id', 'name', 'email', 'active'],
  line: userLine,
  fields: {},
};

export const listUsers = listTool(users, {
  description: 'Users who can own records: name (id), email. Their ids are the owner_id of every other tool.',
  filters: {
    name: boundedText(LIMITS.name).optional().describe('Name contains'),
    email: EmailArg.optional().describe('Exact email'),
  },
});
