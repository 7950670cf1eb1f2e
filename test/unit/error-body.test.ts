/**
 * Error bodies read one way for every CRM (src/crm/error-body.ts), configured per provider: the
 * shapes of provider-apis.md (Pipedrive {error, error_info}; JSON:API errors[] with source.pointer;
 * Capsule {message} and errors[] with field; plain text).
 */
import { describe, expect, it } from 'vitest';
import { errorBodyReader, readErrorBody } from '../../src/crm/error-body.js';
import { describePipedriveError } from '../../src/providers/pipedrive/client.js';

describe('readErrorBody', () => {
  it('reads the first message field, then the first entry of errors[]', () => {
    expect(readErrorBody({ message: 'Rate limit reached' })).toBe('Rate limit reached');
    expect(readErrorBody({ message: '', detail: 'No such record' })).toBe('No such record');
    expect(readErrorBody({ errors: [{ field: 'name', message: 'is required' }] })).toBe('name is required');
    expect(readErrorBody({ errors: ['plain words'] })).toBe('plain words');
    expect(readErrorBody('  Too many requests \n')).toBe('Too many requests');
    expect(readErrorBody('   ')).toBeUndefined();
    expect(readErrorBody([{ message: 'a list is not an error body' }])).toBeUndefined();
    expect(readErrorBody({ unrelated: 1 })).toBeUndefined();
    expect(readErrorBody(null)).toBeUndefined();
  });

  it('JSON:API errors (Outreach): the pointer becomes the argument name an agent passed', () => {
    const body = {
      errors: [
        { id: 'validationError', title: 'Validation Error', detail: "Name can't be blank.", source: { pointer: '/data/attributes/name' } },
        { id: 'validationError', title: 'Validation Error', detail: 'must be a date', source: { pointer: '/data/attributes/closeDate' } },
      ],
    };
    const fieldName = (p: string) => ({ '/data/attributes/name': 'name', '/data/attributes/closeDate': 'close_date' })[p];
    expect(readErrorBody(body, { fieldName })).toBe("name Name can't be blank.");
    expect(readErrorBody(body, { fieldName, maxErrors: 2 })).toBe("name Name can't be blank.; close_date must be a date");
    // An unknown pointer stays as the CRM wrote it.
    expect(readErrorBody({ errors: [{ detail: 'bad', source: { pointer: '/data/x' } }] }, { fieldName })).toBe('/data/x bad');
  });

  it("Capsule: errors[] before the general message, when configured so", () => {
    const body = { message: 'Validation failed', errors: [{ resource: 'kase', field: 'name', message: 'is required' }] };
    expect(readErrorBody(body)).toBe('Validation failed');
    expect(readErrorBody(body, { errors: 'before' })).toBe('name is required');
    expect(readErrorBody({ message: 'Validation failed' }, { errors: 'before' })).toBe('Validation failed');
    expect(readErrorBody({ errors: [{ field: 'name' }] }, { errors: 'none' })).toBeUndefined();
  });

  it("Capsule's whole-sentence messages: the argument name after them, from the entry's resource", () => {
    const body = {
      message: 'Validation Failed',
      errors: [
        { resource: 'opportunity', field: 'party', message: 'party is required' },
        { resource: 'opportunity', field: 'name', message: 'name is required' },
      ],
    };
    const fieldName = (f: string, e: Record<string, unknown>) => (e.resource === 'opportunity' && f === 'party' ? 'account_id' : undefined);
    expect(readErrorBody(body, { errors: 'before', maxErrors: 2, fieldPlacement: 'after', fieldName })).toBe(
      'party is required (account_id); name is required',
    );
    expect(readErrorBody(body, { errors: 'before', maxErrors: 2, fieldName })).toBe('account_id party is required; name name is required');
  });

  it('a detail field beside the message, unless it says nothing', () => {
    const reader = errorBodyReader({ messageKeys: ['error'], detailKey: 'hint', skipDetail: /see the docs/i });
    expect(reader(400, { error: 'Bad input', hint: 'name is too long' })).toBe('Bad input (name is too long)');
    expect(reader(400, { error: 'Bad input', hint: 'See the docs' })).toBe('Bad input');
    expect(reader(400, { hint: 'name is too long' })).toBe('name is too long');
  });
});

describe("Pipedrive's reading", () => {
  it('says {error, error_info} as before: the generic docs pointer left out', () => {
    expect(describePipedriveError(404, { success: false, error: 'Deal not found', error_info: 'Please check developers.pipedrive.com' })).toBe(
      'Deal not found',
    );
    expect(describePipedriveError(400, { success: false, error: 'Validation failed', error_info: 'title is required' })).toBe(
      'Validation failed (title is required)',
    );
    expect(describePipedriveError(400, { success: false, error_info: 'title is required' })).toBe('title is required');
    expect(describePipedriveError(400, { success: false, message: 'not the Pipedrive shape' })).toBeUndefined();
  });
});
