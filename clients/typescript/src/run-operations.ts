// Runs every operation of operations/ against a running gateway (the demo:
// `contact-gateway demo`), at GATEWAY_URL (default http://127.0.0.1:4000/graphql),
// and checks each answer against the types its operation promises. Exits
// non-zero on the first answer that has errors or does not fit.

import { readFileSync } from 'node:fs';

import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildSchema, print } from 'graphql';

import { mismatches } from './check.js';
import {
  ContactCardDocument,
  CreateContactDocument,
  DeleteContactDocument,
  LinkContactToPropertyDocument,
  PropertyBoardDocument,
  SearchContactsDocument,
  UnlinkContactFromPropertyDocument,
  UpdateContactDocument,
} from './gql/graphql.js';

const url = process.env['GATEWAY_URL'] ?? 'http://127.0.0.1:4000/graphql';
const schema = buildSchema(readFileSync(new URL('../../../schema.graphql', import.meta.url), 'utf8'));

/** Runs `document` with `variables`; its data, typed and checked. */
async function run<Data, Variables>(
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
): Promise<Data> {
  const name = document.definitions[0]?.kind === 'OperationDefinition' ? document.definitions[0].name?.value : undefined;
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: print(document), variables, operationName: name }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: unknown[] };
  if (!response.ok || body.errors) {
    throw new Error(`${name}: HTTP ${response.status}, ${JSON.stringify(body.errors ?? body)}`);
  }
  const problems = mismatches(schema, document, body.data);
  if (problems.length > 0) {
    throw new Error(`${name}: the answer does not fit its types:\n  ${problems.join('\n  ')}`);
  }
  console.log(`ok ${name}`);
  return body.data as Data;
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

const board = await run(PropertyBoardDocument, { properties: 5, contacts: 3 });
const property = board.properties.nodes[0];
expect(property !== undefined, 'the board has a property');
expect(board.contacts.nodes.length === 3, 'the board has three Winnerr contacts');

const withActivities = board.contacts.nodes[0];
expect(withActivities !== undefined, 'a Winnerr contact');
const card = await run(ContactCardDocument, { id: withActivities.id, activities: 5 });
expect(card.contact?.id === withActivities.id, 'the card is the contact asked for');
expect(card.contact.activities !== null && card.contact.activities !== undefined, 'Winnerr contacts have activities');

const firstPage = await run(SearchContactsDocument, {
  filter: { createdAfter: '2000-01-01T00:00:00Z' },
  orderBy: { field: 'CREATED_AT', direction: 'DESC' },
  first: 4,
});
expect(firstPage.contacts.edges.length === 4, 'a full first page');
const secondPage = await run(SearchContactsDocument, {
  filter: { createdAfter: '2000-01-01T00:00:00Z' },
  orderBy: { field: 'CREATED_AT', direction: 'DESC' },
  first: 4,
  after: firstPage.contacts.pageInfo.endCursor,
});
const lastOfFirst = firstPage.contacts.edges.at(-1)?.node.createdAt ?? '';
const firstOfSecond = secondPage.contacts.edges[0]?.node.createdAt ?? '';
expect(
  Date.parse(firstOfSecond) <= Date.parse(lastOfFirst),
  'the second page goes on in the same order',
);
const seen = new Set(firstPage.contacts.edges.map((edge) => edge.node.id));
expect(
  secondPage.contacts.edges.every((edge) => !seen.has(edge.node.id)),
  'no contact on both pages',
);

const email = `typed.client.${Date.now()}@example.com`;
const created = await run(CreateContactDocument, {
  input: {
    source: 'OPEN_TO_CLOSE',
    firstName: 'Typed',
    lastName: 'Client',
    email,
    clientMutationId: 'create-1',
  },
});
const contactId = created.createContact.contact.id;
expect(created.createContact.clientMutationId === 'create-1', 'the mutation id comes back');
expect(
  created.createContact.contact.emails.some((e) => e.address === email),
  'the new contact has its email',
);

const updated = await run(UpdateContactDocument, { input: { id: contactId, lastName: 'Renamed' } });
expect(updated.updateContact.contact.lastName === 'Renamed', 'the last name changed');

const linked = await run(LinkContactToPropertyDocument, {
  input: { propertyId: property.id, contactId, role: 'Buyer', primary: false },
});
expect(linked.linkContactToProperty.propertyContact.property.id === property.id, 'linked to the property');
expect(linked.linkContactToProperty.propertyContact.role === 'Buyer', 'with its role');

const unlinked = await run(UnlinkContactFromPropertyDocument, { propertyId: property.id, contactId });
expect(unlinked.unlinkContactFromProperty.contactId === contactId, 'unlinked');

const deleted = await run(DeleteContactDocument, { id: contactId });
expect(deleted.deleteContact.deletedId === contactId, 'deleted');

console.log('every operation ran and every answer fits its types');
