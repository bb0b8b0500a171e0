// Starts GraphiQL on the gateway's own page. It is a file of its own, not an
// inline script, because the page's Content-Security-Policy allows scripts
// from the gateway's origin only.
//
// GraphiQL posts JSON to /graphql on the same origin: the CSRF check lets
// JSON POSTs through without a header. A gateway that asks for API keys
// needs one: opened as /graphql#key=KEY (as `contact-gateway demo` prints
// it), the page puts the key in GraphiQL's request headers. The fragment is
// never sent to a server, and it is removed from the address bar at once.
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

  var props = {
    fetcher: GraphiQL.createFetcher({ url: '/graphql' }),
    defaultQuery: exampleOperation,
    defaultEditorToolsVisibility: true
  };
  var key = new URLSearchParams(window.location.hash.slice(1)).get('key');
  if (key) {
    props.headers = JSON.stringify({ Authorization: 'Bearer ' + key }, null, 2);
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, props));
})();
