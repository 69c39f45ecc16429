// Checks an orgtree server's introspection with graphql-js, the reference
// implementation: runs graphql-js's own introspection query (every option
// on), rebuilds a schema from the answer with buildClientSchema (which
// refuses malformed introspection results) and prints it, sorted, next to
// the SDL the server serves (ORGTREE_SDL, a file) built by graphql-js.
// gqlparser's prelude declares @defer, which graphql-js 16 does not count
// among its built-in directives: it is reported apart ("defer") and left
// out of the printed introspected schema.
//
// Environment: ORGTREE_URL (…/graphql/v2), ORGTREE_POOL_ID, ORGTREE_TOKEN,
// ORGTREE_SDL. Output: one JSON object {"fromIntrospection": <SDL>,
// "fromSource": <SDL>, "defer": <bool>} on stdout;
// server/introspection_test.go compares.
'use strict';

const fs = require('fs');
const {
  GraphQLSchema,
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema
} = require('graphql');

async function main() {
  const { ORGTREE_URL: url, ORGTREE_POOL_ID: pool, ORGTREE_TOKEN: token, ORGTREE_SDL: sdlPath } = process.env;
  if (!url || !pool || !token || !sdlPath) {
    process.stderr.write('introspect.js: set ORGTREE_URL, ORGTREE_POOL_ID, ORGTREE_TOKEN and ORGTREE_SDL\n');
    process.exit(2);
  }
  const query = getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
    oneOf: true
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${token}`,
      'x-authing-userpool-id': pool
    },
    body: JSON.stringify({ query })
  });
  const body = await res.json();
  if (res.status !== 200 || body.errors) {
    throw new Error(`introspection answered HTTP ${res.status}: ${JSON.stringify(body).slice(0, 2000)}`);
  }
  const config = buildClientSchema(body.data).toConfig();
  const defer = config.directives.some(d => d.name === 'defer');
  config.directives = config.directives.filter(d => d.name !== 'defer');
  const fromIntrospection = printSchema(lexicographicSortSchema(new GraphQLSchema(config)));
  const fromSource = printSchema(lexicographicSortSchema(buildSchema(fs.readFileSync(sdlPath, 'utf8'))));
  process.stdout.write(JSON.stringify({ fromIntrospection, fromSource, defer }) + '\n');
}

// Success sets no exit code by hand: process.exit would cut off stdout
// still queued for a pipe (64 KiB).
main().then(
  () => {},
  e => {
    process.stderr.write(`introspect.js: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exit(1);
  }
);
