// tests/search.mjs — owns the end-to-end browser test of the conversation search on the
// agent desktop (/agent/, agent/search.js): the agent opens Search, finds their own
// Japanese web-chat conversation by two words (one hit, "1 conversation", the snippet),
// opens it read-only (the customer's message oldest first) and closes it; a phrase only
// another agent's conversation holds finds nothing (agents find only their own), nor
// does the right word on the wrong channel; the disposition alone finds the
// conversation; a date range that ends before it starts is refused by the engine and
// the panel shows why (the dates sent are local midnights, the "to" day included); the
// Search button reads Japanese after the language toggle; no script error.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=alice AGENT_PASSWORD=... \
//     OTHER_TEXT='...' node clients/tests/search.mjs
//
// Before it runs the Rust side has made and indexed two resolved conversations: one
// served by AGENT_ID, over web chat, in which the customer wrote
// 「注文したスニーカーのサイズを交換したいです」, resolved with disposition `exchange`;
// one served by another agent in which the customer wrote OTHER_TEXT. Prints "search
// browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const run = harness('search');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const OTHER_TEXT = process.env.OTHER_TEXT || '';
const CUSTOMER_TEXT = 'スニーカーのサイズを交換';

if (!BASE || !AGENT_ID || !AGENT_PASSWORD || !OTHER_TEXT) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT AGENT_ID=alice AGENT_PASSWORD=... OTHER_TEXT=... node clients/tests/search.mjs');
  process.exit(2);
}

await run.main(async () => {
  const agent = await run.page();
  const panel = agent.getByTestId('search-panel');
  const hits = agent.getByTestId('search-hit');
  /** @type {string[]} the search requests the page made */
  const searches = [];
  agent.on('request', (r) => {
    if (r.url().includes('/api/v1/search/conversations')) searches.push(r.url());
  });

  /**
   * Fills the form (every field: an empty one is cleared), submits it with the button or
   * Enter in the words field, and waits for the panel to show the answer (its
   * `data-answered` counts the answers shown).
   * @param {{ q?: string, channel?: string, from?: string, to?: string, disposition?: string, enter?: boolean }} form
   */
  async function search({ q = '', channel = '', from = '', to = '', disposition = '', enter = false }) {
    await agent.getByTestId('search-q').fill(q);
    await agent.getByTestId('search-channel').selectOption({ value: channel });
    await agent.getByTestId('search-from').fill(from);
    await agent.getByTestId('search-to').fill(to);
    await agent.getByTestId('search-disposition').fill(disposition);
    const before = Number((await panel.getAttribute('data-answered')) || '0');
    const asked = searches.length;
    if (enter) await agent.getByTestId('search-q').press('Enter');
    else await agent.getByTestId('search-submit').click();
    await agent.locator(`[data-testid="search-panel"][data-answered="${before + 1}"]`).waitFor({ state: 'attached' });
    run.check(searches.length === asked + 1, `${searches.length - asked} search requests for one search`);
    return new URL(searches[searches.length - 1]).searchParams;
  }

  /** The one hit's conversation id (from step 2). */
  let conversationId = '';

  await run.step('agent signs in (English)', async () => {
    await run.signIn(agent, AGENT_ID, AGENT_PASSWORD);
    const label = (await agent.getByTestId('search-open').textContent()).trim();
    run.check(label === 'Search', `the Search button reads "${label}"`);
  });

  await run.step('search 「スニーカー 交換」 finds the one conversation', async () => {
    await agent.getByTestId('search-open').click();
    await panel.waitFor();
    await agent.getByTestId('search-q').waitFor();
    const params = await search({ q: 'スニーカー 交換', enter: true });
    run.check(params.get('q') === 'スニーカー 交換', `q sent ${JSON.stringify(params.get('q'))}`);
    run.check(!params.has('channel') && !params.has('from') && !params.has('to') && !params.has('disposition'), `filters sent: ${params}`);
    await agent.getByTestId('search-results').waitFor();
    run.check((await hits.count()) === 1, `${await hits.count()} hits`);
    const total = (await agent.getByTestId('search-total').textContent()).trim();
    run.check(total === '1 conversation', `the total reads "${total}"`);
    const snippet = await hits.first().getByTestId('search-snippet').textContent();
    run.check(snippet.includes('スニーカー'), `the snippet reads "${snippet}"`);
    conversationId = (await hits.first().getAttribute('data-conversation-id')) || '';
    run.check(!!conversationId, 'the hit names no conversation');
    run.check(await agent.getByTestId('search-empty').isHidden(), '"No conversations found." shows beside a hit');
    run.check(await agent.getByTestId('search-more').isHidden(), '"More" shows for one hit');
  });

  await run.step('the hit opens the conversation read-only; close goes back', async () => {
    await hits.first().click();
    const conv = agent.getByTestId('search-conversation');
    await conv.waitFor();
    run.check((await conv.getAttribute('data-conversation-id')) === conversationId, 'another conversation opened');
    await conv.locator('[data-testid="search-event"][data-type="message_in"]').filter({ hasText: CUSTOMER_TEXT }).first().waitFor();
    // Oldest first: the customer's message comes before anything the conversation ended with.
    const types = await conv.getByTestId('search-event').evaluateAll((els) => els.map((e) => e.getAttribute('data-type')));
    const firstIn = types.indexOf('message_in');
    const resolved = types.lastIndexOf('resolved');
    run.check(resolved === -1 || firstIn < resolved, `events not oldest first: ${types.join(', ')}`);
    run.check((await conv.locator('textarea, [data-testid="composer-send"]').count()) === 0, 'the opened conversation can be written to');
    await agent.getByTestId('search-close').click();
    await conv.waitFor({ state: 'hidden' });
    await hits.first().waitFor();
  });

  await run.step("another agent's conversation is not found", async () => {
    await search({ q: OTHER_TEXT });
    await agent.getByTestId('search-empty').waitFor();
    run.check((await agent.getByTestId('search-empty').textContent()).trim() === 'No conversations found.', 'the empty line reads otherwise');
    run.check((await hits.count()) === 0, `${await hits.count()} hits`);
    run.check(await agent.getByTestId('search-error').isHidden(), 'an error shows');
  });

  await run.step('the right word on the wrong channel finds nothing', async () => {
    const params = await search({ q: 'スニーカー', channel: 'sms' });
    run.check(params.get('channel') === 'sms', `channel sent ${JSON.stringify(params.get('channel'))}`);
    await agent.getByTestId('search-empty').waitFor();
    run.check((await hits.count()) === 0, `${await hits.count()} hits`);
  });

  await run.step('the disposition alone finds the conversation', async () => {
    const params = await search({ disposition: 'exchange' });
    run.check(!params.has('q') && !params.has('channel') && params.get('disposition') === 'exchange', `sent ${params}`);
    await hits.first().waitFor();
    run.check((await hits.count()) === 1, `${await hits.count()} hits`);
    run.check((await hits.first().getAttribute('data-conversation-id')) === conversationId, 'another conversation found');
    run.check(await agent.getByTestId('search-empty').isHidden(), '"No conversations found." shows beside a hit');
  });

  await run.step('a range ending before it starts is refused, and the panel says why', async () => {
    const params = await search({ from: '2030-01-02', to: '2030-01-01' });
    // Local midnights: from 2 January; to is exclusive, so the midnight after 1 January.
    const midnight = await agent.evaluate(() => new Date(2030, 0, 2).getTime());
    run.check(params.get('from') === String(midnight) && params.get('to') === String(midnight), `sent from=${params.get('from')} to=${params.get('to')}, local midnight ${midnight}`);
    const error = agent.getByTestId('search-error');
    await error.waitFor();
    const text = (await error.textContent()).trim();
    run.check(/from must be before to/.test(text), `the error reads "${text}"`);
    run.check((await hits.count()) === 0, `${await hits.count()} hits beside the error`);
    run.check(await agent.getByTestId('search-empty').isHidden(), '"No conversations found." shows beside the error');
  });

  await run.step('the page switches to Japanese', async () => {
    await agent.getByTestId('lang-toggle').click();
    await agent.getByTestId('search-open').filter({ hasText: '検索' }).waitFor();
    const open = (await agent.getByTestId('search-open').textContent()).trim();
    run.check(open === '検索', `the Search button reads "${open}"`);
    const submit = (await agent.getByTestId('search-submit').textContent()).trim();
    run.check(submit === '検索', `the submit button reads "${submit}"`);
    const any = (await agent.getByTestId('search-channel').locator('option[value=""]').textContent()).trim();
    run.check(any === 'すべてのチャネル', `the channel picker's first option reads "${any}"`);
    // A search in Japanese counts its hit in Japanese: 「1件」.
    await search({ disposition: 'exchange' });
    await hits.first().waitFor();
    const total = (await agent.getByTestId('search-total').textContent()).trim();
    run.check(total === '1件', `the total reads "${total}"`);
  });
});
