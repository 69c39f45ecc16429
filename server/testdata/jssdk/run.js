// Drives an orgtree server with the official JS SDK (authing-js-sdk) through
// the organization methods. Configuration comes from the environment:
// ORGTREE_HOST (http://127.0.0.1:PORT), ORGTREE_POOL_ID, ORGTREE_SECRET.
// Every step prints one JSON line: {"step", "ok", "result"} or {"step",
// "ok": false, "error"}. Refusals the scenario expects (a cyclic move, an
// unknown id) are ok:false lines, not crashes; the Go test checks them.
'use strict';

const { ManagementClient } = require('authing-js-sdk');

const management = new ManagementClient({
  userPoolId: process.env.ORGTREE_POOL_ID,
  secret: process.env.ORGTREE_SECRET,
  host: process.env.ORGTREE_HOST,
  onError: () => {} // errors are reported by the steps below
});

function errorText(e) {
  if (e && typeof e === 'object' && 'message' in e) {
    return { code: e.code, message: String(e.message) };
  }
  return { message: String(e) };
}

async function step(name, fn) {
  try {
    const result = await fn();
    console.log(JSON.stringify({ step: name, ok: true, result: result === undefined ? null : result }));
    return result;
  } catch (e) {
    console.log(JSON.stringify({ step: name, ok: false, error: errorText(e) }));
    return undefined;
  }
}

async function main() {
  const user = await step('users.create', () => management.users.create({ username: 'js-user-1' }));
  await step('users.detail', () => management.users.detail(user.id));

  const org = await step('org.create', () => management.org.create('JS Org', 'made by the JS SDK', 'jsorg'));
  const root = org.rootNode;
  // The JS SDK's addNode sends addNodeV2 and answers the new node.
  const a = await step('org.addNode A', () => management.org.addNode(org.id, root.id, { name: 'Dept A', code: 'a' }));
  const b = await step('org.addNode B', () => management.org.addNode(org.id, root.id, { name: 'Dept B', code: 'b' }));
  await step('org.addNode duplicate code', () => management.org.addNode(org.id, root.id, { name: 'Dup', code: 'a' }));

  await step('org.getNodeById', () => management.org.getNodeById(a.id));
  await step('org.getNodeById unknown', () => management.org.getNodeById('000000000000000000000000'));
  await step('org.getNodeByCode', () => management.org.getNodeByCode(org.id, 'b'));
  await step('org.updateNode', () => management.org.updateNode(b.id, { name: 'Dept B2' }));
  await step('org.moveNode', () => management.org.moveNode(org.id, b.id, a.id));
  await step('org.moveNode cycle', () => management.org.moveNode(org.id, a.id, b.id));
  await step('org.listChildren', () => management.org.listChildren(root.id));
  await step('org.searchNodes', () => management.org.searchNodes('Dept'));
  await step('org.isRootNode', () => management.org.isRootNode(org.id, root.id));
  await step('org.rootNode', () => management.org.rootNode(org.id));
  await step('org.findById', () => management.org.findById(org.id));
  await step('org.list', () => management.org.list(1, 10));

  await step('org.addMembers', () => management.org.addMembers(a.id, [user.id]));
  await step('org.listMembers', () => management.org.listMembers(a.id, { page: 1, limit: 10 }));
  await step('org.listMembers root with children', () =>
    management.org.listMembers(root.id, { includeChildrenNodes: true }));
  await step('org.setMainDepartment', () => management.org.setMainDepartment(user.id, a.id));
  await step('org.moveMembers', () =>
    management.org.moveMembers({ userIds: [user.id], sourceNodeId: a.id, targetNodeId: b.id }));
  await step('org.removeMembers', () => management.org.removeMembers(b.id, [user.id]));
  await step('org.listAuthorizedResourcesByNodeId', () =>
    management.org.listAuthorizedResourcesByNodeId(a.id, 'default'));
  await step('org.listAuthorizedResourcesByNodeCode', () =>
    management.org.listAuthorizedResourcesByNodeCode(org.id, 'a', 'default'));

  await step('org.exportByOrgId', () => management.org.exportByOrgId(org.id));
  await step('org.exportAll', () => management.org.exportAll());
  const imported = await step('org.importByJson', () =>
    management.org.importByJson({ name: 'JS Imported', code: 'jsimp', children: [{ name: 'Child' }] }));
  await step('org.deleteNode', () => management.org.deleteNode(org.id, b.id));
  await step('org.deleteById', () => management.org.deleteById(org.id));
  return imported;
}

main().then(
  () => process.exit(0),
  e => {
    console.error('unexpected failure:', e && e.stack ? e.stack : e);
    process.exit(1);
  }
);
