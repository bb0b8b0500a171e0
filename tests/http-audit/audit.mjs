// Runs the graphql-http server audits (the GraphQL-over-HTTP specification's
// own conformance suite) against a running gateway, twice: as a plain client
// sends requests, and as a client that adds the CSRF header to every request
// (GET requests without it are refused by design, which only MAY audits try).
// Prints the counts per requirement level and every audit that did not pass;
// exits 1 if any MUST or SHOULD audit failed in either pass.
//
// Usage: node tests/http-audit/audit.mjs http://127.0.0.1:PORT/graphql

import { serverAudits } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs GRAPHQL_URL');
  process.exit(2);
}

const withCsrfHeader = (input, init = {}) =>
  fetch(input, { ...init, headers: { ...(init.headers ?? {}), 'x-graphql-csrf': '1' } });

let failedRequired = 0;
for (const [label, fetchFn] of [
  ['plain client', fetch],
  ['client sending x-graphql-csrf', withCsrfHeader],
]) {
  const results = await Promise.all(serverAudits({ url, fetchFn }).map((audit) => audit.fn()));
  const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
  const failures = [];
  for (const result of results) {
    const level = result.name.split(' ')[0];
    counts[level][1] += 1;
    if (result.status === 'ok') {
      counts[level][0] += 1;
    } else {
      failures.push(`  ${result.id} ${result.name}: ${result.reason}`);
      if (level !== 'MAY') failedRequired += 1;
    }
  }
  const summary = Object.entries(counts)
    .map(([level, [passed, total]]) => `${level} ${passed}/${total}`)
    .join(', ');
  console.log(`graphql-http audit (${label}): ${summary} passed`);
  for (const failure of failures) console.log(failure);
}
process.exit(failedRequired === 0 ? 0 : 1);
