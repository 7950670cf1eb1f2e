import * as z from 'zod';
import { searchableTypes, supportedOperations, unsupported } from '../crm/capabilities.js';
import { CrmError } from '../crm/errors.js';
import { boundedList, boundedText, LIMITS, SEARCH_TYPES, SearchResult, type SearchType } from '../crm/model.js';
import type { CrmProvider } from '../crm/provider.js';
import { rankHits, toSearchResult } from '../crm/search.js';
import { defineTool } from './define.js';
import { searchLine } from './format.js';

/** Where to look instead, for a type a CRM cannot search server-side but lists. */
const INSTEAD: Record<SearchType, string> = {
  deals: 'list_deals',
  accounts: 'list_accounts',
  contacts: 'list_contacts',
  projects: 'list_projects with name',
  pipelines: 'list_pipelines',
  stages: 'list_stages or get_pipeline',
  users: 'list_users with name',
};

/**
 * A sentence each on `types` this connection cannot search: the list tool to use where it lists
 * them, else that it has none (or cannot list them), so the agent is never sent to a tool that refuses.
 */
function elsewhere(provider: CrmProvider, types: readonly SearchType[]): { sentences: string[]; listed: boolean } {
  const ops = supportedOperations(provider.capabilities);
  const listed = types.filter((t) => ops[t]?.includes('list'));
  const none = types.filter((t) => !ops[t]);
  const unlisted = types.filter((t) => ops[t] && !ops[t].includes('list'));
  const sentences = [
    none.length ? `has no ${none.join(', ')}` : '',
    unlisted.length ? `can neither search nor list ${unlisted.join(', ')}` : '',
    listed.length ? `has no server-side search for ${listed.join(', ')}; use ${listed.map((t) => INSTEAD[t]).join(', ')}` : '',
  ];
  return { sentences: sentences.filter(Boolean).map((s) => `${provider.label} ${s}`), listed: listed.length > 0 };
}


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
      const { sentences, listed } = elsewhere(provider, unsearched);
      throw new CrmError('unsupported', `${sentences.join('. ')}${listed ? ', or' : '; it can'} search ${provider.capabilities.search.join(', ')}.`);
    }
    const answer = await provider.search!({ query, types: searched, limit: call.args.limit }, call.options);
    const missing = [...unsearched, ...(answer.unsupported ?? []).filter((t) => !unsearched.includes(t))];
    const results = rankHits(answer.hits, query, searched, call.args.limit).map(toSearchResult);
    const head = results.length
      ? `${results.length} ${results.length === 1 ? 'match' : 'matches'} for “${query}”, best first:`
      : `Nothing named like “${query}” among ${searched.join(', ')}.`;
    const note = missing.length ? [`${elsewhere(provider, missing).sentences.join('. ')}.`] : [];
    return {
      structured: { results },
      text: [head, ...results.map((r) => `- ${searchLine(r)}`), ...note].join('\n'),
    };
  },
});
