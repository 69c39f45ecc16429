// Runs the GraphQL-over-HTTP audit suite of graphql-http (serverAudits, the
// version pinned in package.json) against an orgtree server, adding the
// bearer token and user pool header every orgtree request needs.
//
// Configuration comes from the environment:
//   ORGTREE_URL      http://127.0.0.1:PORT/graphql/v2
//   ORGTREE_POOL_ID  user pool id (the x-authing-userpool-id header)
//   ORGTREE_TOKEN    an access token (Authorization: Bearer ...)
//
// Output: one JSON line per audit on stdout,
//   {"id", "name", "status": "ok"|"notice"|"warn"|"error", "reason"?,
//    "httpStatus"?, "contentType"?, "body"?}
// server/audit_test.go reads them. Exit 0 when every audit ran (whatever
// it found), 2 on bad configuration, 1 on an unexpected failure.
'use strict';

const { serverAudits } = require('graphql-http');

const url = process.env.ORGTREE_URL || '';
const pool = process.env.ORGTREE_POOL_ID || '';
const token = process.env.ORGTREE_TOKEN || '';
if (!url || !pool || !token) {
  process.stderr.write('audit.js: set ORGTREE_URL, ORGTREE_POOL_ID and ORGTREE_TOKEN\n');
  process.exit(2);
}

// fetchFn adds the credentials to whatever the audit sends, keeping the
// audit's own headers (content type, accept) as they are.
function fetchFn(input, init) {
  const headers = new Headers((init && init.headers) || {});
  headers.set('authorization', `Bearer ${token}`);
  headers.set('x-authing-userpool-id', pool);
  return fetch(input, { ...(init || {}), headers });
}

async function main() {
  for (const audit of serverAudits({ url, fetchFn })) {
    const result = await audit.fn();
    const line = { id: result.id, name: result.name, status: result.status };
    if (result.status !== 'ok') {
      line.reason = result.reason;
      const res = result.response;
      if (res) {
        line.httpStatus = res.status;
        line.contentType = res.headers.get('content-type');
        try {
          line.body = (await res.text()).slice(0, 500);
        } catch (_) {
          // the audit already read the body
        }
      }
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

// Success sets no exit code by hand: process.exit would cut off stdout
// still queued for a pipe (64 KiB).
main().then(
  () => {},
  e => {
    process.stderr.write(`audit.js: ${e && e.stack ? e.stack : String(e)}\n`);
    process.exit(1);
  }
);
