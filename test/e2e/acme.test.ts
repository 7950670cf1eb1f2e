/**
 * The task issue 9 was written for, as an agent would do it on the demo CRM: "add a deal for Acme,
 * owned by Ana, and note that they want a pilot". The script knows only names, never an id: it
 * finds the account, the owner and the stage, creates the deal and adds the note, in at most five
 * tool calls, reading ids from the answers as an agent reads them. Then the CRM is checked.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { call, idIn, textOf, type S } from '../helpers/mcp.js';
import { startStdio, stopAll, tempDbPath } from '../helpers/server.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
afterAll(stopAll);

describe('the Acme task on the demo CRM', () => {
  it('"add a deal for Acme, owned by Ana, and note that they want a pilot" takes five tool calls', async () => {
    const srv = await startStdio({ db: tempDbPath() });
    const calls: string[] = [];
    const tool = async (name: string, args: Record<string, unknown>) => {
      calls.push(name);
      const res = await call(srv.client, name, args);
      if (res.isError) throw new Error(`${name} failed: ${textOf(res)}`);
      return { text: textOf(res), s: res.structuredContent as S };
    };
    try {
      // 1. The account: its name starts with "Acme".
      const accounts = await tool('search', { query: 'Acme', types: ['accounts'] });
      const accountLine = accounts.text.split('\n').find((l) => l.startsWith('- account: Acme'));
      const accountId = idIn(accountLine, 'the Acme account');

      // 2. The owner: a user named Ana.
      const users = await tool('list_users', { name: 'Ana' });
      const userLines = users.text.split('\n').filter((l) => l.startsWith('- '));
      expect(userLines, 'exactly one Ana').toHaveLength(1);
      const ownerId = idIn(userLines[0], 'Ana');

      // 3. The stage: the first stage of the Sales pipeline, where new deals start.
      const stages = await tool('list_stages', {});
      const stageLine = stages.text.split('\n').find((l) => / · #1 in Sales \(\d+\)/.test(l));
      const stageId = idIn(stageLine, 'the first Sales stage');

      // 4. The deal.
      const deal = await tool('create_deal', {
        name: 'Acme Corp – Pilot',
        stage_id: stageId,
        owner_id: ownerId,
        account_id: accountId,
        idempotency_key: 'acme-pilot-deal',
      });
      const dealId = idIn(deal.text.replace(/^Created deal /, ''), 'the new deal');

      // 5. The note, on the deal.
      await tool('create_activity', {
        type: 'note',
        body: 'They want a pilot.',
        deal_id: dealId,
        idempotency_key: 'acme-pilot-note',
      });

      expect(calls).toEqual(['search', 'list_users', 'list_stages', 'create_deal', 'create_activity']);

      // The CRM now holds what was asked (checked outside the agent's five calls).
      const got = (await call(srv.client, 'get_deal', { deal_id: dealId, response_format: 'detailed' })).structuredContent as S;
      expect(got.deal).toMatchObject({
        name: 'Acme Corp – Pilot',
        status: 'open',
        owner: { id: ownerId, name: 'Ana Patel' },
        account: { id: accountId, name: 'Acme Corp' },
        stage: { id: stageId, name: 'Lead In' },
        pipeline: { name: 'Sales' },
      });
      const notes = (await call(srv.client, 'list_activities', { deal_id: dealId })).structuredContent as S;
      expect(notes.activities).toHaveLength(1);
      expect(notes.activities[0]).toMatchObject({ type: 'note', body: 'They want a pilot.', deal: { id: dealId, name: 'Acme Corp – Pilot' } });
    } finally {
      await srv.close();
    }
  });
});
