// Hive Gateway's supergraph for the side-by-side benchmark, composed by
// `mesh-compose` from the sandbox's own OpenAPI documents
// (`<prefix>/openapi.json`). The bench sets SANDBOX_URL and the sandbox's demo
// credentials in the environment before composing.
import { createPrefixTransform, defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const sandbox = process.env.SANDBOX_URL;
const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('OpenToClose', {
        source: `${sandbox}/opentoclose/openapi.json`,
        endpoint: `${sandbox}/opentoclose`,
        queryParams: { api_token: env('OTC_TOKEN') },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('DjangoCrm', {
        source: `${sandbox}/djangocrm/openapi.json`,
        endpoint: `${sandbox}/djangocrm`,
        operationHeaders: {
          Authorization: `Bearer ${env('DJANGO_TOKEN')}`,
          'organization-id': env('DJANGO_ORG'),
        },
      }),
      // The four APIs name their types and operations alike; the prefix
      // keeps them apart in the one schema.
      transforms: [createPrefixTransform({ value: 'DjangoCrm_', includeRootOperations: true })],
    },
    {
      sourceHandler: loadOpenAPISubgraph('Winnerr', {
        source: `${sandbox}/winnerr/openapi.json`,
        endpoint: `${sandbox}/winnerr`,
        operationHeaders: { Authorization: `Bearer ${env('WINNERR_TOKEN')}` },
      }),
      // The four APIs name their types and operations alike; the prefix
      // keeps them apart in the one schema.
      transforms: [createPrefixTransform({ value: 'Winnerr_', includeRootOperations: true })],
    },
    {
      sourceHandler: loadOpenAPISubgraph('Spark', {
        source: `${sandbox}/spark/openapi.json`,
        endpoint: `${sandbox}/spark`,
        operationHeaders: {
          Authorization: `Bearer ${env('SPARK_TOKEN')}`,
          'X-SparkApi-User-Agent': env('SPARK_AGENT'),
        },
      }),
      // The four APIs name their types and operations alike; the prefix
      // keeps them apart in the one schema.
      transforms: [createPrefixTransform({ value: 'Spark_', includeRootOperations: true })],
    },
  ],
  // A property's contact links (each with its contact nested, as Open To
  // Close sends them), and per link the contact read again by id (the per-id
  // row), both resolved from the OpenAPI operations.
  additionalTypeDefs: /* GraphQL */ `
    extend type Property {
      contacts: [PropertyContact]
        @resolveTo(
          sourceName: "OpenToClose"
          sourceTypeName: "Query"
          sourceFieldName: "listPropertyContacts"
          requiredSelectionSet: "{ id }"
          sourceArgs: { id: "{root.id}", limit: 100 }
        )
    }
    extend type PropertyContact {
      contactById: Contact
        @resolveTo(
          sourceName: "OpenToClose"
          sourceTypeName: "Query"
          sourceFieldName: "getContact"
          requiredSelectionSet: "{ contact_id }"
          sourceArgs: { id: "{root.contact_id}" }
        )
    }
  `,
});
