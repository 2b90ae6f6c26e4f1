// tests/agent_assist.mjs — owns the browser test of the agent desktop's assist panel
// (agent/assist.js) against a running engine whose `[crm] url` points at a fake CRM
// (tests/api/recorder.rs answers every /crm/ path with name "Hanako Yamada", tier
// "gold" and orders A-1001, A-0999) and which holds the canned response `greet`
// ("Hello {{customer.name}}, this is {{agent.name}}.", shortcut `greet`):
// the agent gets a chat, sees the CRM attributes and orders, picks `/greet` in the
// reply box (the customer's name is rendered in, nothing is sent until Send), sends an
// internal note that never reaches the customer's socket, sees the knowledge-base
// section available, and switches to Japanese.
//
//   SWITCHBOARD_URL=http://127.0.0.1:PORT AGENT_ID=assist AGENT_PASSWORD=... \
//     node clients/tests/agent_assist.mjs
//
// The KB parts (suggestions, search, article create/edit) are agent_assist_kb.mjs.

import { env, harness, check, launch, newPage, agentLogin, visitorSays, acceptOffer } from './assist_common.mjs';

const run = harness('assist browser test');
const QUESTION = 'Where is my order A-1001?';
const NOTE = 'NOTE-7731 refund approved, do not tell yet';
const AFTER_NOTE = 'Checking that for you now.';

if (!env.BASE || !env.AGENT_ID || !env.AGENT_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=... AGENT_ID=... AGENT_PASSWORD=... node clients/tests/agent_assist.mjs');
  process.exit(2);
}

run.run(async () => {
  await launch(run);
  const agent = await newPage(run, 'agent', { locale: 'en-US', width: 1400, height: 900 });
  const visitor = await newPage(run, 'chat', { locale: 'en-US', width: 420, height: 780 });
  // Every frame the customer's chat socket receives.
  const toCustomer = [];
  visitor.on('websocket', (ws) => ws.on('framereceived', (f) => toCustomer.push(String(f.payload))));

  await run.step('agent logs in and is available', () => agentLogin(agent));
  await run.step('visitor asks a question', () => visitorSays(visitor, QUESTION));
  await run.step('agent accepts the chat', () => acceptOffer(agent, QUESTION));

  await run.step('agent sees CRM attributes and orders', async () => {
    await agent.locator('[data-testid="crm-status"][data-status="ok"]').waitFor();
    const attrs = agent.getByTestId('crm-attributes');
    await attrs.filter({ hasText: 'Hanako Yamada' }).waitFor();
    check((await attrs.textContent()).includes('gold'), 'tier gold missing');
    const orders = agent.getByTestId('crm-order');
    await orders.first().waitFor();
    check((await orders.count()) === 2, `expected 2 orders, saw ${await orders.count()}`);
    check((await orders.first().textContent()).includes('A-1001'), 'order A-1001 missing');
  });

  await run.step('canned responses are listed and filter', async () => {
    await agent.locator('[data-testid="canned-item"][data-id="greet"]').waitFor();
    await agent.getByTestId('canned-filter').fill('お詫び');
    await agent.locator('[data-testid="canned-item"][data-id="greet"]').waitFor({ state: 'detached' });
    await agent.getByTestId('canned-filter').fill('');
    await agent.locator('[data-testid="canned-item"][data-id="greet"]').waitFor();
  });

  await run.step('`/greet` in the reply box inserts the rendered response, unsent', async () => {
    const input = agent.getByTestId('composer-input');
    await input.fill('');
    await input.pressSequentially('/gre');
    await agent.getByTestId('canned-slash-item').filter({ hasText: '/greet' }).waitFor();
    await input.press('Enter');
    await agent.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.getElementById('composer-input')).value.startsWith('Hello '));
    const value = await input.inputValue();
    check(value === 'Hello Hanako Yamada, this is ASSIST.', `reply box holds ${JSON.stringify(value)}`);
    check(
      (await agent.locator('[data-testid="timeline-message"][data-kind="message_out"]').count()) === 0,
      'a message went out without Send',
    );
    await input.press('Enter');
    await visitor.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: 'Hello Hanako Yamada' }).waitFor();
  });

  await run.step('the insert button fills the reply box too', async () => {
    await agent.locator('[data-testid="canned-item"][data-id="sorry-ja"]').getByTestId('canned-insert').click();
    await agent.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.getElementById('composer-input')).value.includes('申し訳'));
    check((await agent.getByTestId('composer-input').inputValue()).startsWith('Hanako Yamada様'), 'ja response not rendered');
    await agent.getByTestId('composer-input').fill('');
  });

  await run.step('agent adds an internal note, shown as a note', async () => {
    await agent.getByTestId('note-toggle').click();
    check((await agent.getByTestId('note-toggle').getAttribute('aria-pressed')) === 'true', 'note mode not on');
    await agent.getByTestId('composer-input').fill(NOTE);
    await agent.getByTestId('composer-input').press('Enter');
    await agent.locator('[data-testid="timeline-message"][data-kind="note"]:not([data-pending])').filter({ hasText: NOTE }).waitFor();
    const cls = await agent.locator('[data-testid="timeline-message"][data-kind="note"]').filter({ hasText: NOTE }).getAttribute('class');
    check(cls.includes('msg--note'), `note not styled as a note: ${cls}`);
    await agent.getByTestId('note-toggle').click();
  });

  await run.step('the customer never receives the note', async () => {
    await agent.getByTestId('composer-input').fill(AFTER_NOTE);
    await agent.getByTestId('composer-input').press('Enter');
    await visitor.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: AFTER_NOTE }).waitFor();
    check(toCustomer.some((f) => f.includes(AFTER_NOTE)), 'the later reply was not seen on the socket');
    check(!toCustomer.some((f) => f.includes('NOTE-7731')), 'the note reached the customer socket');
    check(!(await visitor.content()).includes('NOTE-7731'), 'the note is on the customer page');
  });

  await run.step('knowledge base section is available', async () => {
    await agent.getByTestId('kb-suggestions').waitFor({ state: 'visible' });
    check(await agent.getByTestId('kb-unavailable').isHidden(), 'the KB shows as unavailable');
  });

  await run.step('agent switches to Japanese', async () => {
    await agent.getByTestId('lang-toggle').first().click();
    await agent.locator('[data-testid="crm-status"][data-status="ok"]').filter({ hasText: '最新' }).waitFor();
    await agent.locator('#assist-canned-section-title').filter({ hasText: '定型文' }).waitFor();
    await agent.locator('#assist-kb-title').filter({ hasText: 'ナレッジベース' }).waitFor();
  });

  await run.step('no script errors', async () => {
    check(run.errors.length === 0, `page errors: ${run.errors.join(' | ')}`);
  });
});
