import * as z from 'zod';
import { searchableTypes, unsupported } from '../crm/capabilities.js';
import { CrmError } from '../crm/errors.js';
import { boundedList, boundedText, LIMITS, SEARCH_TYPES, SearchResult, type SearchType } from '../crm/model.js';
import { rankHits, toSearchResult } from '../crm/search.js';
import { defineTool } from './define.js';
import { searchLine } from './format.js';

/** Where to look instead, for a type a CRM cannot search server-side. */
const INSTEAD: Record<SearchType, string> = {
  deals: 'list_deals',
  accounts: 'list_accounts',
  contacts: 'list_contacts',
  projects: 'list_projects with name',
  pipelines: 'list_pipelines',
  stages: 'list_stages or get_pipeline',
  users: 'list_users with name',
};


export const search = defineTool({
  name: 'search',
  title: 'Search by name',
  description:
    'Names to ids in one call: deals, accounts, contacts, projects, pipelines, stages, users; exact matches first, each with a short detail.',
  toolset: 'core',
  kind: 'read',
  args: {
    query: boundedText(LIMITS.name).describe('Name, or part of one; 2+ characters'),
    types: boundedList(z.enum(SEARCH_TYPES), SEARCH_TYPES.length).min(1).optional().describe('Default: all this CRM searches'),
    limit: z.number().int().min(1).max(25).default(5).describe('Hits per type'),
  },
  common: ['connection'],
  output: { results: z.array(SearchResult) },
  async run(call) {
    const query = call.args.query.trim();
    if (query.length < 2) throw new CrmError('validation', 'search needs a `query` of at least 2 characters (not counting spaces at either end).');
    const { provider } = call;
    const asked = call.args.types ? [...new Set(call.args.types)] : [...(provider.capabilities.search ?? [])];
    const { searched, unsearched } = searchableTypes(provider, asked);
    if (!searched.length) {
      if (!provider.capabilities.search?.length || !provider.search) throw unsupported(provider, 'search');
      throw new CrmError(
        'unsupported',
        `${provider.label} has no server-side search for ${unsearched.join(', ')}; use ${unsearched.map((t) => INSTEAD[t]).join(', ')}, or search ${provider.capabilities.search.join(', ')}.`,
      );
    }
    const answer = await provider.search!({ query, types: searched, limit: call.args.limit }, call.options);
    const missing = [...unsearched, ...(answer.unsupported ?? []).filter((t) => !unsearched.includes(t))];
    const results = rankHits(answer.hits, query, searched, call.args.limit).map(toSearchResult);
    const head = results.length
      ? `${results.length} ${results.length === 1 ? 'match' : 'matches'} for “${query}”, best first:`
      : `Nothing named like “${query}” among ${searched.join(', ')}.`;
    const note = missing.length
      ? [`${provider.label} has no server-side search for ${missing.join(', ')}; use ${missing.map((t) => INSTEAD[t]).join(', ')}.`]
      : [];
    return {
      structured: { results },
      text: [head, ...results.map((r) => `- ${searchLine(r)}`), ...note].join('\n'),
    };
  },
});
