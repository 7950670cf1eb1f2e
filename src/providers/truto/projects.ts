/** Projects through Truto; which fields a write may carry depends on the integration (capabilities.ts). */
import type { Project } from '../../crm/model.js';
import type { CrudOperations, ProjectInput, ProjectQuery } from '../../crm/provider.js';
import { compact } from '../../crm/records.js';
import type { TrutoClient } from './client.js';
import { projectFromTruto, projectToTruto, type TrutoProject } from './map.js';
import { trutoResource, type ReferenceCheck } from './resource.js';

export function projectOps(client: TrutoClient, check: ReferenceCheck): CrudOperations<Project, ProjectQuery, ProjectInput> {
  return trutoResource<Project, TrutoProject, ProjectInput, ProjectQuery>(client, {
    resource: 'projects',
    noun: 'project',
    listTool: 'list_projects',
    fromTruto: (p, o) => projectFromTruto(p, o),
    toTruto: projectToTruto,
    listParams: (q) =>
      compact({
        name: q.name,
        status: q.status,
        owner: q.owner_id === undefined ? undefined : { id: q.owner_id },
        account: q.account_id === undefined ? undefined : { id: q.account_id },
        stage: q.stage_id === undefined ? undefined : { id: q.stage_id },
      }),
    // The owner and account a project names must exist; its lists of contacts and deals are left to the CRM.
    references: (input) => ({ user: input.owner?.id, account: input.account?.id }),
    check,
  });
}
