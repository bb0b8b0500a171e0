// Starts GraphiQL on the gateway's own page. It is a file of its own, not an
// inline script, because the page's Content-Security-Policy allows scripts
// from the gateway's origin only.
//
// GraphiQL posts JSON to /graphql on the same origin: the CSRF check lets
// JSON POSTs through without a header, and the demo needs no caller
// credentials, so no header is pre-filled.
(function () {
  'use strict';

  var exampleOperation = [
    '# A property board, joined across properties, their contacts and each',
    "# contact's activities: the dataloaders fetch each record once and batch",
    '# what the upstreams allow. Press the run button (or Ctrl-Enter).',
    '#',
    '# The Docs button (top left) browses the schema.',
    'query PropertyBoard {',
    '  properties(first: 10) {',
    '    nodes {',
    '      title city status price',
    '      contacts { role primary contact { displayName emails { address } phones { number } } }',
    '    }',
    '  }',
    '  contacts(sources: [WINNERR], first: 5, orderBy: {field: CREATED_AT, direction: DESC}) {',
    '    nodes { displayName tags activities(first: 3) { nodes { type description occurredAt } } }',
    '  }',
    '}',
    ''
  ].join('\n');

  var fetcher = GraphiQL.createFetcher({ url: '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: exampleOperation,
      defaultEditorToolsVisibility: true
    })
  );
})();
