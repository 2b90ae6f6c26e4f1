// tests/agent_assist_kb.mjs — owns the browser test of the knowledge-base half of the
// agent desktop's assist panel (agent/assist.js). It needs the KB endpoints
// (/api/v1/kb/articles, /kb/suggest, /kb/search) from the knowledge-base branch, so it
// runs after merging (tests/api/browser.rs, the ignored
// `the_assist_panel_uses_the_knowledge_base_in_a_real_browser`):
// an article created over REST is suggested for a customer's question and inserted into
// the reply box; the search box finds it; the agent creates an article from the
// desktop; an edit that lost a race with another writer shows the 409 conflict.
//
//   SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... \
//     node clients/tests/agent_assist_kb.mjs

import { env, harness, check, launch, newPage, agentLogin, visitorSays, acceptOffer } from './assist_common.mjs';

const run = harness('assist kb browser test');
const RUN_ID = Math.random().toString(36).slice(2, 8);
const TITLE = `Returning an item ${RUN_ID}`;
const BODY = `You can return any item within 30 days of delivery. Ref RETURN-${RUN_ID}.`;
const QUESTION = 'How do I return an item I bought?';

if (!env.BASE || !env.AGENT_ID || !env.AGENT_PASSWORD || !env.ADMIN_TOKEN) {
  console.error('usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... ADMIN_TOKEN=... node clients/tests/agent_assist_kb.mjs');
  process.exit(2);
}

async function admin(method, path, body) {
  const res = await fetch(`${env.BASE}/api/v1/${path}`, {
    method,
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

run.run(async () => {
  let article = null;
  await run.step('an article is created over REST', async () => {
    const r = await admin('POST', 'kb/articles', { title: TITLE, body: BODY, tags: ['returns'], language: 'en', channels: ['chat'] });
    check(r.status === 200 || r.status === 201, `POST kb/articles answered ${r.status}: ${JSON.stringify(r.body)}`);
    article = r.body;
  });

  await launch(run);
  const agent = await newPage(run, 'agent', { locale: 'en-US', width: 1400, height: 900 });
  const visitor = await newPage(run, 'chat', { locale: 'en-US', width: 420, height: 780 });
  await run.step('agent logs in', () => agentLogin(agent));
  await run.step('visitor asks about returns', () => visitorSays(visitor, QUESTION));
  await run.step('agent accepts', () => acceptOffer(agent, QUESTION));

  await run.step('the article is suggested and inserts into the reply box', async () => {
    const hit = agent.getByTestId('kb-suggestions').getByTestId('kb-hit').filter({ hasText: TITLE });
    await hit.waitFor();
    await hit.getByTestId('kb-insert').click();
    await agent.waitForFunction((ref) => /** @type {HTMLTextAreaElement} */ (document.getElementById('composer-input')).value.includes(ref), `RETURN-${RUN_ID}`);
    await agent.getByTestId('composer-input').fill('');
  });

  await run.step('the search box finds it', async () => {
    await agent.getByTestId('kb-query').fill('return');
    await agent.getByTestId('kb-search').click();
    await agent.getByTestId('kb-results').getByTestId('kb-hit').filter({ hasText: TITLE }).waitFor();
  });

  await run.step('the agent proposes an article a supervisor publishes', async () => {
    await agent.getByTestId('kb-new').click();
    await agent.getByTestId('kb-title').fill(`Gift wrapping ${RUN_ID}`);
    await agent.getByTestId('kb-body').fill('Gift wrapping is free for orders over 3000 yen.');
    await agent.getByTestId('kb-tags').fill('gifts, wrapping');
    await agent.getByTestId('kb-save').click();
    await agent.getByTestId('kb-message').filter({ hasText: 'Sent to a supervisor' }).waitFor();
    const search = () => admin('GET', `kb/search?q=${encodeURIComponent('gift wrapping')}`);
    let r = await search();
    check(!JSON.stringify(r.body).includes(`Gift wrapping ${RUN_ID}`), `a draft is served: ${JSON.stringify(r.body)}`);
    const drafts = await admin('GET', 'kb/drafts');
    const draft = ((drafts.body && drafts.body.drafts) || []).find((/** @type {{title: string}} */ d) => d.title === `Gift wrapping ${RUN_ID}`);
    check(!!draft, `draft not listed: ${JSON.stringify(drafts.body)}`);
    const p = await admin('POST', `kb/drafts/${encodeURIComponent(draft.id)}/publish`);
    check(p.status === 200, `publish answered ${p.status}`);
    r = await search();
    check(JSON.stringify(r.body).includes(`Gift wrapping ${RUN_ID}`), `published article not found: ${JSON.stringify(r.body)}`);
  });

  await run.step('an edit that lost a race shows the conflict', async () => {
    const hit = agent.getByTestId('kb-results').getByTestId('kb-hit').filter({ hasText: TITLE });
    await hit.getByTestId('kb-edit').click();
    await agent.getByTestId('kb-form').waitFor({ state: 'visible' });
    await agent.waitForFunction((t) => /** @type {HTMLInputElement} */ (document.getElementById('kb-title')).value === t, TITLE);
    // Someone else saves first.
    const cur = await admin('GET', `kb/articles/${encodeURIComponent(article.id)}`);
    const version = (cur.body && cur.body.version) ?? article.version;
    const r = await admin('PUT', `kb/articles/${encodeURIComponent(article.id)}`, { title: TITLE, body: `${BODY} (updated)`, tags: ['returns'], language: 'en', channels: ['chat'], version });
    check(r.status === 200, `concurrent PUT answered ${r.status}`);
    await agent.getByTestId('kb-body').fill(`${BODY} (agent edit)`);
    await agent.getByTestId('kb-save').click();
    await agent.getByTestId('kb-form-error').filter({ hasText: 'changed this article' }).waitFor();
  });

  await run.step('no script errors', async () => {
    check(run.errors.length === 0, `page errors: ${run.errors.join(' | ')}`);
  });
});
