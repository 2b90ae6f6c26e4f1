// tests/help_widget.mjs — owns the browser test of the web chat's help-center
// suggestions (chat/help.js) against a running engine whose knowledge base holds the
// articles the Rust side seeds: A (ja, public) 「返品方法について」 with two paragraphs,
// C (ja, not public) 「返品の社内手順」, D (en, public) whose title and body are markup
// (`<img src=x onerror=…>`, `<script>window.__xss=…</script>`), and E (en, public on
// the `voice` channel only) "Phone menu refund".
//
// Steps: a visitor (/chat/?lang=ja) types 「返品したい」 before writing anything: the
// suggestions list A and never C; A opens inline (title, two paragraphs, the link to its
// help-center page /help/ja/articles/…); Yes posts `{"helpful": true}` (204) and thanks
// the visitor. A new visitor (/chat/?lang=en, a new browser context) types "refund": D
// is suggested with its markup as text, E is not; D opens with `<script>` as text, no
// dialog, `window.__xss` stays undefined, no request for its `<img src=x>`; No posts
// `{"helpful": false}` and closes it. The visitor then sends a message: the suggestions
// go, and typing more asks the help center nothing.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 node clients/tests/help_widget.mjs
//
// Prints "help widget browser test passed" and exits 0, or exits 1 with the failing
// step. Stops by itself after 90 s.

import { harness, BASE } from './harness.mjs';

if (!BASE) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT node clients/tests/help_widget.mjs');
  process.exit(2);
}

const run = harness('help widget');
const SEARCH_PATH = '/help/api/search';
const SENT = 'I want a refund please';

/** @type {string[]} every dialog (alert, confirm…) a page opened: markup ran as script */
const dialogs = [];
/** @type {string[]} requests for the XSS probe's `<img src=x>`: its markup was parsed */
const probeRequests = [];

/**
 * A visitor's chat page in a new browser context (a new visitor), watched for dialogs
 * and for the probe's image request.
 * @param {string} lang
 */
async function visitor(lang) {
  const page = await run.page({ locale: lang === 'ja' ? 'ja-JP' : 'en-US', viewport: { width: 420, height: 800 } });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('request', (req) => {
    if (/\/x$/.test(new URL(req.url()).pathname)) probeRequests.push(req.url());
  });
  const res = await page.goto(`${BASE}/chat/?lang=${lang}`);
  run.check(!!res && res.ok(), `GET /chat/ answered ${res && res.status()}`);
  await page.locator('[data-testid="chat-status"][data-state="ready"]').waitFor();
  return page;
}

/**
 * The feedback POST `click` makes: its JSON body and the engine's answer.
 * @param {import('playwright-core').Page} page
 * @param {() => Promise<void>} click
 */
async function feedbackOf(page, click) {
  const answered = page.waitForResponse((res) => res.request().method() === 'POST' && /^\/help\/api\/articles\/[^/]+\/feedback$/.test(new URL(res.url()).pathname));
  await click();
  const res = await answered;
  return { body: res.request().postDataJSON(), status: res.status() };
}

/** @param {import('playwright-core').Page} page */
async function noScriptRan(page) {
  run.check(dialogs.length === 0, `a dialog opened: ${dialogs.join(' | ')}`);
  run.check((await page.evaluate(() => typeof window.__xss)) === 'undefined', `window.__xss is ${await page.evaluate(() => String(window.__xss))}`);
  run.check(probeRequests.length === 0, `the probe's <img src=x> was requested: ${probeRequests.join(' ')}`);
}

await run.main(async () => {
  /** @type {import('playwright-core').Page} */
  let ja;
  await run.step('a Japanese visitor types before writing: public articles are suggested', async () => {
    ja = await visitor('ja');
    await ja.getByTestId('chat-input').fill('返品したい');
    const list = ja.getByTestId('help-suggestions');
    await list.waitFor({ state: 'visible' });
    await list.getByTestId('help-suggestion').filter({ hasText: '返品方法について' }).first().waitFor();
    const heading = await list.textContent();
    run.check(heading.includes('おすすめの記事'), `the list reads ${JSON.stringify(heading)}`);
    const titles = await list.getByTestId('help-suggestion').allTextContents();
    run.check(titles.length >= 1 && titles.length <= 3, `${titles.length} suggestions: ${JSON.stringify(titles)}`);
    run.check(!titles.some((x) => x.includes('社内手順')), `a non-public article is suggested: ${JSON.stringify(titles)}`);
  });

  await run.step('the suggestion opens inline: title, two paragraphs, the help-center link', async () => {
    await ja.getByTestId('help-suggestion').filter({ hasText: '返品方法について' }).first().click();
    const panel = ja.getByTestId('help-article');
    await panel.waitFor({ state: 'visible' });
    await panel.getByTestId('help-article-title').waitFor();
    const title = (await panel.getByTestId('help-article-title').textContent()).trim();
    run.check(title === '返品方法について', `title ${JSON.stringify(title)}`);
    const body = panel.getByTestId('help-article-body');
    const text = await body.textContent();
    run.check(text.includes('30日以内'), `body ${JSON.stringify(text)}`);
    const paragraphs = await body.locator('p').count();
    run.check(paragraphs === 2, `${paragraphs} paragraphs, not 2`);
    const link = panel.getByTestId('help-article-link');
    const href = await link.getAttribute('href');
    run.check(!!href && href.includes('/help/ja/articles/'), `link href ${href}`);
    run.check((await link.getAttribute('target')) === '_blank', 'the link does not open a new tab');
    run.check(((await link.getAttribute('rel')) || '').split(/\s+/).includes('noopener'), 'the link has no rel=noopener');
    const linkText = await link.textContent();
    run.check(linkText.includes('ヘルプセンターで開く'), `link text ${JSON.stringify(linkText)}`);
    const question = await panel.textContent();
    run.check(question.includes('この記事で解決しましたか？'), 'the question is not asked');
  });

  await run.step('Yes: helpful feedback is posted and the visitor is thanked', async () => {
    const { body, status } = await feedbackOf(ja, () => ja.getByTestId('help-yes').click());
    run.check(JSON.stringify(body) === JSON.stringify({ helpful: true }), `feedback body ${JSON.stringify(body)}`);
    run.check(status === 204, `feedback answered ${status}`);
    const thanks = ja.getByTestId('help-thanks');
    await thanks.waitFor({ state: 'visible' });
    run.check((await thanks.textContent()).includes('お役に立ててよかったです'), `thanks read ${await thanks.textContent()}`);
    run.check((await ja.getByTestId('help-yes').count()) === 0 && (await ja.getByTestId('help-no').count()) === 0, 'Yes / No still show');
  });

  /** @type {import('playwright-core').Page} */
  let en;
  await run.step('an English visitor types "refund": the markup article is suggested as text, the voice-only one is not', async () => {
    en = await visitor('en');
    await en.getByTestId('chat-input').pressSequentially('refund');
    const list = en.getByTestId('help-suggestions');
    await list.getByTestId('help-suggestion').filter({ hasText: '<script>' }).first().waitFor();
    run.check((await list.textContent()).includes('Suggested articles'), 'the list has no English heading');
    const titles = await list.getByTestId('help-suggestion').allTextContents();
    run.check(!titles.some((x) => x.includes('Phone menu')), `a voice-only article is suggested: ${JSON.stringify(titles)}`);
    run.check(!titles.some((x) => x.includes('社内手順')), `a non-public article is suggested: ${JSON.stringify(titles)}`);
    await noScriptRan(en);
  });

  await run.step('the markup article opens with its markup as text; No closes it', async () => {
    await en.getByTestId('help-suggestion').filter({ hasText: '<script>' }).first().click();
    const panel = en.getByTestId('help-article');
    const body = panel.getByTestId('help-article-body');
    await body.waitFor();
    const text = await body.textContent();
    run.check(text.includes('<script>window.__xss=3</script>'), `body ${JSON.stringify(text)}`);
    run.check(text.includes('<b>bold</b>'), `body ${JSON.stringify(text)}`);
    run.check((await body.locator('script, b, img').count()) === 0, 'the body holds elements from the article text');
    const title = await panel.getByTestId('help-article-title').textContent();
    run.check(title.includes('<img src=x'), `title ${JSON.stringify(title)}`);
    run.check((await panel.locator('img, script').count()) === 0, 'the panel holds elements from the article text');
    await noScriptRan(en);
    const { body: sent, status } = await feedbackOf(en, () => en.getByTestId('help-no').click());
    run.check(JSON.stringify(sent) === JSON.stringify({ helpful: false }), `feedback body ${JSON.stringify(sent)}`);
    run.check(status === 204, `feedback answered ${status}`);
    await panel.waitFor({ state: 'hidden' });
    run.check(await en.getByTestId('help-suggestions').isHidden(), 'the suggestions show again after No');
    const focused = await en.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-testid'));
    run.check(focused === 'chat-input', `focus is on ${focused}`);
  });

  await run.step('once the visitor has written, the help center is asked nothing more', async () => {
    await en.getByTestId('chat-input').fill(SENT);
    await en.getByTestId('chat-input').press('Enter');
    await en.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])').filter({ hasText: SENT }).waitFor();
    /** @type {string[]} */
    const searches = [];
    en.on('request', (req) => {
      if (new URL(req.url()).pathname === SEARCH_PATH) searches.push(req.url());
    });
    await en.getByTestId('chat-input').pressSequentially('more text');
    // Proves an absence: nothing would show that a search did not happen, so wait well
    // past the page's 300 ms debounce (and a local answer) before counting.
    await en.waitForTimeout(800);
    run.check(searches.length === 0, `searched after the first message: ${searches.join(' ')}`);
    run.check(await en.getByTestId('help-suggestions').isHidden(), 'the suggestions still show');
    run.check(await en.getByTestId('help-article').isHidden(), 'the article panel still shows');
    await noScriptRan(en);
  });
});
