// Drives an orgtree server with the official JS SDK (authing-js-sdk, version
// pinned in package.json) through the organization methods. See PROTOCOL.md
// for what each method sends.
//
// Configuration comes from the environment:
//   ORGTREE_HOST     http://127.0.0.1:PORT (no trailing slash needed)
//   ORGTREE_POOL_ID  user pool id
//   ORGTREE_SECRET   user pool secret (exchanged for a token by the SDK)
//
// Output: one JSON line per step on stdout,
//   {"step": name, "ok": true, "result": <value>}
//   {"step": name, "ok": false, "error": {"code": <code>, "message": <text>, "data"?: <detail>}}
// Refusals the scenario expects (duplicate code, unknown id, cyclic move,
// startSync) are ok:false lines, not crashes; server/jssdk_test.go checks
// every line, their count (37) and their names, so keep those stable.
//
// Exit codes: 0 the scenario ran to the end (whatever the steps answered);
// 2 bad configuration; 3 the token exchange failed (then the only stdout
// line is {"step": "token", "ok": false, ...}, and stderr says why);
// 1 an unexpected exception outside the steps.
'use strict';

const { ManagementClient } = require('authing-js-sdk');

const STEP_COUNT = 37; // what server/jssdk_test.go expects on success

function fail(exitCode, message) {
  process.stderr.write(`run.js: ${message}\n`);
  process.exit(exitCode);
}

// errorInfo turns whatever the SDK threw into {code, message[, data]}:
// - GraphqlClient throws a plain object {code, message, data} built from
//   errors[0].message (an object on the wire) or from an axios failure
//   (code is then e.g. "ECONNREFUSED" or an HTTP status);
// - HttpClient (REST) throws new Error(JSON.stringify({code, message, data}))
//   for a 2xx envelope whose code is not 200, and lets axios errors through
//   for non-2xx answers;
// - our own guards throw Error("skipped: ...").
function errorInfo(e) {
  if (e === null || e === undefined) {
    return { code: null, message: String(e) };
  }
  if (typeof e !== 'object') {
    return { code: null, message: String(e) };
  }
  if (e.isAxiosError || (e.response && e.config)) {
    const body = e.response && e.response.data;
    const info = {
      code: (e.response && e.response.status) || e.code || null,
      message: String(e.message)
    };
    if (body && typeof body === 'object' && body.message !== undefined) {
      info.message += `: ${typeof body.message === 'string' ? body.message : JSON.stringify(body.message)}`;
      info.data = body;
    } else if (typeof body === 'string' && body !== '') {
      info.message += `: ${body.slice(0, 500)}`;
    }
    return info;
  }
  if (e instanceof Error) {
    try {
      const parsed = JSON.parse(e.message);
      if (parsed && typeof parsed === 'object' && 'message' in parsed) {
        return withData({ code: parsed.code === undefined ? null : parsed.code, message: String(parsed.message) }, parsed.data);
      }
    } catch (_) {
      // not the SDK's JSON-in-Error form
    }
    return { code: e.code === undefined ? null : e.code, message: String(e.message) };
  }
  if ('message' in e || 'code' in e) {
    return withData({ code: e.code === undefined ? null : e.code, message: String(e.message) }, e.data);
  }
  return { code: null, message: safeStringify(e) };
}

function withData(info, data) {
  if (data !== undefined && data !== null && data !== info.message) {
    info.data = data;
  }
  return info;
}

function safeStringify(v) {
  try {
    return JSON.stringify(v);
  } catch (_) {
    return String(v);
  }
}

function emit(line) {
  let text;
  try {
    text = JSON.stringify(line);
  } catch (e) {
    text = JSON.stringify({ step: line.step, ok: false, error: { code: null, message: `result not serialisable: ${e.message}` } });
  }
  process.stdout.write(text + '\n');
}

let emitted = 0;

// step runs fn, prints its line, and answers its result (undefined on error).
async function step(name, fn) {
  emitted++;
  try {
    const result = await fn();
    emit({ step: name, ok: true, result: result === undefined ? null : result });
    return result;
  } catch (e) {
    emit({ step: name, ok: false, error: errorInfo(e) });
    return undefined;
  }
}

// need guards a step on the result of an earlier one, so a failed
// prerequisite shows as "skipped: ..." instead of a TypeError.
function need(value, what) {
  if (value === undefined || value === null) {
    throw new Error(`skipped: ${what} is not available (an earlier step failed)`);
  }
  return value;
}

async function main() {
  const host = (process.env.ORGTREE_HOST || '').replace(/\/+$/, '');
  const userPoolId = process.env.ORGTREE_POOL_ID || '';
  const secret = process.env.ORGTREE_SECRET || '';
  const missing = [['ORGTREE_HOST', host], ['ORGTREE_POOL_ID', userPoolId], ['ORGTREE_SECRET', secret]]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) {
    fail(2, `set ${missing.join(', ')} (e.g. ORGTREE_HOST=http://127.0.0.1:8080)`);
  }
  if (!/^https?:\/\/[^/]+/.test(host)) {
    fail(2, `ORGTREE_HOST must be an http(s) URL, got ${JSON.stringify(host)}`);
  }

  let management;
  try {
    management = new ManagementClient({
      userPoolId,
      secret,
      host,
      // The default onError throws {code, message} from inside the SDK and
      // drops the detail; a no-op lets the SDK throw its own, fuller error.
      onError: () => {}
    });
  } catch (e) {
    fail(2, `new ManagementClient: ${errorInfo(e).message}`);
  }

  // Token exchange up front, through the SDK's own provider (query
  // accessToken on POST {host}/graphql/v2, then jwt-decode of the token for
  // its exp), so a wrong host or secret fails here, once, clearly. The token
  // is cached by the provider and reused by every step below.
  try {
    const token = await management.tokenProvider.getToken();
    if (!token) {
      throw new Error('the server answered an empty accessToken');
    }
  } catch (e) {
    const info = errorInfo(e);
    emit({ step: 'token', ok: false, error: info });
    fail(3, `token exchange failed: query accessToken(userPoolId, secret) at ${host}/graphql/v2: ${info.message}` +
      (info.code !== null && info.code !== undefined ? ` (code ${info.code})` : ''));
  }

  const org = management.org;

  const user = await step('users.create', () => management.users.create({ username: 'js-user-1' }));
  await step('users.detail', () => management.users.detail(need(user, 'the user').id));
  // With a password the SDK first fetches GET /api/v2/.well-known and
  // RSA-encrypts the password with its publicKey; the server decrypts it.
  await step('users.create with password', () =>
    management.users.create({ username: 'js-user-2', password: 'js passw0rd 密码' }));

  // The fourth argument is the tenant id (kept, see getOrgByTenantId).
  const created = await step('org.create', () => org.create('JS Org', 'made by the JS SDK', 'jsorg', 'js-tenant'));
  const orgId = () => need(created, 'the org').id;
  const rootId = () => need(created && created.rootNode, 'the root node').id;

  // The JS SDK's addNode sends addNodeV2 and answers the new node (not the org).
  const a = await step('org.addNode A', () => org.addNode(orgId(), rootId(), { name: 'Dept A', code: 'a' }));
  const b = await step('org.addNode B', () => org.addNode(orgId(), rootId(), { name: 'Dept B', code: 'b' }));
  const aId = () => need(a, 'node A').id;
  const bId = () => need(b, 'node B').id;
  await step('org.addNode duplicate code', () => org.addNode(orgId(), rootId(), { name: 'Dup', code: 'a' }));

  await step('org.getNodeById', () => org.getNodeById(aId()));
  await step('org.getNodeById unknown', () => org.getNodeById('000000000000000000000000'));
  await step('org.getNodeByCode', () => org.getNodeByCode(orgId(), 'b'));
  await step('org.updateNode', () => org.updateNode(bId(), { name: 'Dept B2' }));
  await step('org.moveNode', () => org.moveNode(orgId(), bId(), aId()));
  await step('org.moveNode cycle', () => org.moveNode(orgId(), aId(), bId()));
  // listChildren(nodeId) sends childrenNodes(nodeId): the JS SDK has no depth
  // argument (the Go SDK's depth goes to REST GET /api/v2/orgs/children).
  await step('org.listChildren', () => org.listChildren(rootId()));
  await step('org.searchNodes', () => org.searchNodes('Dept'));
  await step('org.isRootNode', () => org.isRootNode(orgId(), rootId()));
  await step('org.rootNode', () => org.rootNode(orgId()));
  await step('org.findById', () => org.findById(orgId()));
  await step('org.list', () => org.list(1, 10));
  // getAllOrgs: REST GET /api/v2/orgs/count, then GET /api/v2/orgs?page&limit.
  await step('org.getAllOrgs', () => org.getAllOrgs(1, 10));
  // REST GET /api/v2/orgs/by-tenant?tenant_id=: the tenant's org trees.
  await step('org.getOrgByTenantId', () => org.getOrgByTenantId('js-tenant'));
  // orgtree runs no provider connections: refused with how to sync offline.
  await step('org.startSync', () => org.startSync({ providerType: 'dingtalk' }));

  const userId = () => need(user, 'the user').id;
  await step('org.addMembers', () => org.addMembers(aId(), [userId()]));
  await step('org.listMembers', () => org.listMembers(aId(), { page: 1, limit: 10 }));
  await step('org.listMembers root with children', () =>
    org.listMembers(rootId(), { includeChildrenNodes: true }));
  await step('org.setMainDepartment', () => org.setMainDepartment(userId(), aId()));
  // The user's side: REST GET /api/v2/users/{id}/orgs (org + node path per
  // membership) and query getUserDepartments.
  await step('users.listOrgs', () => management.users.listOrgs(userId()));
  await step('users.listDepartment', () => management.users.listDepartment(userId()));
  await step('org.moveMembers', () =>
    org.moveMembers({ userIds: [userId()], sourceNodeId: aId(), targetNodeId: bId() }));
  await step('org.removeMembers', () => org.removeMembers(bId(), [userId()]));
  await step('org.listAuthorizedResourcesByNodeId', () =>
    org.listAuthorizedResourcesByNodeId(aId(), 'default'));
  await step('org.listAuthorizedResourcesByNodeCode', () =>
    org.listAuthorizedResourcesByNodeCode(orgId(), 'a', 'default'));

  await step('org.exportByOrgId', () => org.exportByOrgId(orgId()));
  await step('org.exportAll', () => org.exportAll());
  // importByJson posts {filetype: 'json', file: <object>} to
  // /api/v2/orgs/import (the Go SDK sends file as a JSON string).
  await step('org.importByJson', () =>
    org.importByJson({
      name: 'JS Imported',
      code: 'jsimp',
      children: [
        { name: 'Child', code: 'jsimp-child', children: [{ name: 'Grandchild', description: 'two levels down' }] },
        { name: 'Sibling' }
      ]
    }));
  await step('org.deleteNode', () => org.deleteNode(orgId(), bId()));
  await step('org.deleteById', () => org.deleteById(orgId()));

  if (emitted !== STEP_COUNT) {
    throw new Error(`internal: ran ${emitted} steps, the Go test expects ${STEP_COUNT}`);
  }
}

// A reader that goes away early (node run.js | head) is not a failure.
process.stdout.on('error', e => {
  if (e && e.code === 'EPIPE') {
    process.exit(0);
  }
  process.stderr.write(`run.js: stdout: ${e && e.message}\n`);
  process.exit(1);
});

process.on('unhandledRejection', e => {
  process.stderr.write(`run.js: unexpected failure (unhandled rejection): ${e && e.stack ? e.stack : safeStringify(e)}\n`);
  process.exit(1);
});

// Success sets no exit code by hand: process.exit would cut off stdout
// still queued for a pipe (64 KiB).
main().then(
  () => {},
  e => {
    process.stderr.write(`run.js: unexpected failure: ${e && e.stack ? e.stack : safeStringify(e)}\n`);
    process.exit(1);
  }
);
