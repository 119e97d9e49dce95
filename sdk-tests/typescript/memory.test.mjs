// client.beta.memoryStores (stores, memories, versions) through the official TypeScript SDK,
// against the Berth server the Rust harness started (BERTH_URL, BERTH_API_KEY). Run with
// `node --test`.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({
  baseURL: process.env.BERTH_URL,
  apiKey: process.env.BERTH_API_KEY,
  maxRetries: 0,
});
const stores = client.beta.memoryStores;

const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

async function status(call) {
  try {
    await call();
    return 200;
  } catch (error) {
    if (error instanceof Anthropic.APIError) return error.status;
    throw error;
  }
}

async function all(page) {
  const items = [];
  for await (const item of page) items.push(item);
  return items;
}

test('stores are created, changed, listed, archived and deleted', async () => {
  const store = await stores.create({ name: 'ts notes', description: 'Facts.', metadata: { team: 'a' } });
  assert.equal(store.type, 'memory_store');
  assert.match(store.id, /^memstore_/);
  assert.equal((await stores.retrieve(store.id)).description, 'Facts.');

  const updated = await stores.update(store.id, { description: '', metadata: { owner: 'b' } });
  assert.equal(updated.description, '');
  assert.deepEqual(updated.metadata, { team: 'a', owner: 'b' });

  const listed = await all(stores.list({ limit: 1 }));
  assert.ok(listed.some((s) => s.id === store.id), 'pages are walked to the end');

  const archived = await stores.archive(store.id);
  assert.ok(archived.archived_at);
  assert.equal(await status(() => stores.memories.create(store.id, { path: '/x.md', content: 'x' })), 400);
  assert.ok(!(await all(stores.list())).some((s) => s.id === store.id), 'archived stores are hidden');

  const deleted = await stores.delete(store.id);
  assert.deepEqual(deleted, { id: store.id, type: 'memory_store_deleted' });
  assert.equal(await status(() => stores.retrieve(store.id)), 404);
});

test('memories keep versions, check preconditions and roll up by depth', async () => {
  const store = await stores.create({ name: 'ts memories' });
  const memories = stores.memories;
  const created = await memories.create(store.id, { path: '/projects/alpha/plan.md', content: 'v1' });
  assert.equal(created.content, null, 'create answers the basic view');
  assert.equal(created.content_sha256, sha256('v1'));
  assert.equal(created.content_size_bytes, 2);

  const full = await memories.retrieve(created.id, { memory_store_id: store.id });
  assert.equal(full.content, 'v1');
  const basic = await memories.retrieve(created.id, { memory_store_id: store.id, view: 'basic' });
  assert.equal(basic.content, null);

  const edited = await memories.update(created.id, {
    memory_store_id: store.id,
    content: 'v2',
    precondition: { type: 'content_sha256', content_sha256: sha256('v1') },
  });
  assert.equal(edited.content_sha256, sha256('v2'));

  const stale = await memories
    .update(created.id, {
      memory_store_id: store.id,
      content: 'v3',
      precondition: { type: 'content_sha256', content_sha256: sha256('v1') },
    })
    .catch((e) => e);
  assert.ok(stale instanceof Anthropic.ConflictError);
  assert.equal(stale.error.error.type, 'memory_precondition_failed_error');

  await memories.create(store.id, { path: '/top.md', content: 'top' });
  const clash = await memories.update(created.id, { memory_store_id: store.id, path: '/top.md' }).catch((e) => e);
  assert.ok(clash instanceof Anthropic.ConflictError);
  assert.equal(clash.error.error.type, 'memory_path_conflict_error');

  const rolled = await all(memories.list(store.id, { depth: 1 }));
  assert.deepEqual(
    rolled.map((item) => [item.type, item.path]),
    [
      ['memory_prefix', '/projects/'],
      ['memory', '/top.md'],
    ],
  );
  const everything = await all(memories.list(store.id, { limit: 1 }));
  assert.deepEqual(
    everything.map((m) => m.path),
    ['/projects/alpha/plan.md', '/top.md'],
  );

  const wrong = await memories
    .delete(created.id, { memory_store_id: store.id, expected_content_sha256: sha256('nope') })
    .catch((e) => e);
  assert.ok(wrong instanceof Anthropic.ConflictError);
  const gone = await memories.delete(created.id, {
    memory_store_id: store.id,
    expected_content_sha256: sha256('v2'),
  });
  assert.deepEqual(gone, { id: created.id, type: 'memory_deleted' });

  // Versions outlive the memory; an old one can be redacted.
  const versions = await all(stores.memoryVersions.list(store.id, { memory_id: created.id }));
  assert.deepEqual(
    versions.map((v) => v.operation),
    ['deleted', 'modified', 'created'],
  );
  assert.equal(versions[0].content_sha256, null, 'a deletion keeps no content');
  assert.equal(versions[2].created_by.type, 'api_actor');
  const first = await stores.memoryVersions.retrieve(versions[2].id, { memory_store_id: store.id });
  assert.equal(first.content, 'v1');
  const redacted = await stores.memoryVersions.redact(versions[2].id, { memory_store_id: store.id });
  assert.ok(redacted.redacted_at);
  assert.equal(redacted.content, null);
  assert.equal(redacted.path, null);
});

test('bad paths and oversized content are refused with nothing stored', async () => {
  const store = await stores.create({ name: 'ts limits' });
  for (const path of ['notes.md', '/a/../b.md', '/a//b.md', '/trailing/', '/zero\u200bwidth.md']) {
    assert.equal(await status(() => stores.memories.create(store.id, { path, content: 'x' })), 400, path);
  }
  assert.equal(
    await status(() => stores.memories.create(store.id, { path: '/big.md', content: 'x'.repeat(102_401) })),
    400,
  );
  assert.deepEqual(await all(stores.memories.list(store.id)), []);
});

test('sessions attach stores and are listed by store', async () => {
  const store = await stores.create({ name: 'ts attached' });
  const agent = await client.beta.agents.create({ name: 'ts agent', model: 'claude-sonnet-4-6' });
  const environment = await client.beta.environments.create({ name: 'ts env' });
  const session = await client.beta.sessions.create({
    agent: agent.id,
    environment_id: environment.id,
    resources: [{ type: 'memory_store', memory_store_id: store.id, access: 'read_only' }],
  });
  const resource = session.resources.find((r) => r.type === 'memory_store');
  assert.equal(resource.mount_path, '/mnt/memory/ts attached');
  assert.equal(resource.access, 'read_only');
  const listed = await all(client.beta.sessions.list({ memory_store_id: store.id }));
  assert.deepEqual(
    listed.map((s) => s.id),
    [session.id],
  );
});
