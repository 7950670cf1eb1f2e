import { boundedList, boundedText, Contact, EmailArg, LIMITS, PhoneArg } from '../crm/model.js';
import { CrmError } from '../crm/errors.js';
import type { ContactInput } from '../crm/provider.js';
import { createTool, getTool, listTool, updateTool, type ResourceSpec } from './crud.js';
import { id } from './define.js';
import { contactLine } from './format.js';

const CONCISE = ['id', 'name', 'title', 'emails', 'account', 'owner'] as const;
const personName = (what: string) => boundedText(LIMITS.name).min(1).optional().describe(what);

const contacts: ResourceSpec<Contact> = {
  resource: 'contacts',
  singular: 'contact',
  concise: CONCISE,
  line: contactLine,
  fields: {
    first_name: personName('First name'),
    last_name: personName('Last name'),
    emails: boundedList(EmailArg, LIMITS.contactPoints).optional().describe('Email addresses; replaces the list'),
    phones: boundedList(PhoneArg, LIMITS.contactPoints).optional().describe('Phone numbers; replaces the list'),
    title: boundedText(LIMITS.name).optional().describe('Job title'),
    account_id: id('Account').optional(),
    owner_id: id('User').optional(),
  },
};

export const contactTools = [
  listTool(contacts, {
    description: 'Lists contacts (people): name (id), title, account, email. search finds one by name or email.',
    filters: {
      name: boundedText(LIMITS.name).optional().describe('Name contains'),
      email: EmailArg.optional().describe('Exact email'),
      account_id: id('Account').optional(),
      owner_id: id('Owner (user)').optional(),
    },
  }),
  getTool(contacts, { description: 'One contact by id: name, title, emails, phones, account, owner.' }),
  createTool<Contact, ContactInput>(contacts, {
    description: 'Creates a contact (a first or last name at least), on account_id when given.',
    // Every CRM names a person: a contact with neither name would show as nothing at all.
    async before(_call, data) {
      if (data.first_name === undefined && data.last_name === undefined) {
        throw new CrmError('validation', 'create_contact needs first_name or last_name (or both).');
      }
    },
  }),
  updateTool(contacts, { description: 'Changes a contact, sending only the fields given; emails and phones replace the list.' }),
];
