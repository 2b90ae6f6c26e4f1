// tests/help_center.mjs — owns the browser test of the public help center's pages (the
// engine renders them as plain HTML forms: /help/, /help/{lang}/, /help/{lang}/search,
// the article pages) against a running engine whose knowledge base holds the articles
// the Rust side seeds: A (ja, public) 「返品方法について」 with two paragraphs, C (ja, not
// public) 「返品の社内手順」, D (en, public) whose title and body are markup
// (`<img src=x onerror=…>`, `<script>window.__xss=…</script>`), and E (en, public on the
// `voice` channel only) "Phone menu refund".
//
// Steps: a Japanese browser opens /help/ and lands on /help/ja/, which lists A and not
// C; searching 「返品したい」 finds A and not C; A's page has its title and two
// paragraphs; "No" on its feedback form is thanked. /help/en/search?q=refund lists D
// with its markup as text and not E; D's page shows the markup as text (no dialog,
// `window.__xss` undefined, no request for its `<img src=x>`); "Yes" is thanked.
// Searching "phone menu" on /help/en/ finds nothing. No page had a script error.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 node clients/tests/help_center.mjs
//
// Prints "help center browser test passed" and exits 0, or exits 1 with the failing
// step. Stops by itself after 90 s.

import { harness, BASE } from './harness.mjs';

if (!BASE) {
  console.error('usage: SWITCHBOARD_URL=http://127.0.0.1:PORT node clients/tests/help_center.mjs');
  process.exit(2);
}

const run = harness('help center');

/** @type {string[]} every dialog (alert, confirm…) the page opened: markup ran as script */
const dialogs = [];
/** @type {string[]} requests for the XSS probe's `<img src=x>`: its markup was parsed */
const probeRequests = [];

/** @param {import('playwright-core').Page} page */
async function noScriptRan(page) {
  run.check(dialogs.length === 0, `a dialog opened: ${dialogs.join(' | ')}`);
  run.check((await page.evaluate(() => typeof window.__xss)) === 'undefined', `window.__xss is ${await page.evaluate(() => String(window.__xss))}`);
  run.check(probeRequests.length === 0, `the probe's <img src=x> was requested: ${probeRequests.join(' ')}`);
}

/**
 * Submits the page's search form with `q` and waits for the results page.
 * @param {import('playwright-core').Page} page
 * @param {string} lang
 * @param {string} q
 */
async function search(page, lang, q) {
  await page.getByTestId('help-q').fill(q);
  await Promise.all([page.waitForURL((url) => url.pathname === `/help/${lang}/search`), page.getByTestId('help-search-submit').click()]);
  const asked = new URL(page.url()).searchParams.get('q');
  run.check(asked === q, `the results page is for q=${JSON.stringify(asked)}`);
}

/**
 * Answers the article's feedback form and waits for the thanks that replace it.
 * @param {import('playwright-core').Page} page
 * @param {'help-helpful-yes' | 'help-helpful-no'} button
 */
async function feedback(page, button) {
  const lang = new URL(page.url()).pathname.split('/')[2];
  const posted = page.waitForRequest((req) => req.method() === 'POST' && req.isNavigationRequest());
  await page.getByTestId('help-feedback').getByTestId(button).click();
  await posted;
  await page.getByTestId('help-feedback-thanks').waitFor({ state: 'visible' });
  run.check(new URL(page.url()).pathname.startsWith(`/help/${lang}/articles/`), `after the feedback the page is ${page.url()}, not the article`);
  run.check((await page.getByTestId('help-feedback').count()) === 0 || (await page.getByTestId('help-feedback').isHidden()), 'the feedback form still shows');
}

await run.main(async () => {
  const page = await run.page({ locale: 'ja-JP' });
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('request', (req) => {
    if (/\/x$/.test(new URL(req.url()).pathname)) probeRequests.push(req.url());
  });

  await run.step('/help/ sends a Japanese browser to /help/ja/, which lists public articles only', async () => {
    const res = await page.goto(`${BASE}/help/`);
    run.check(!!res && res.ok(), `GET /help/ ended with ${res && res.status()}`);
    run.check(page.url().endsWith('/help/ja/'), `landed on ${page.url()}`);
    const list = page.getByTestId('help-articles');
    await list.waitFor();
    const links = await list.getByTestId('help-article-link').allTextContents();
    run.check(links.some((x) => x.includes('返品方法について')), `the home lists ${JSON.stringify(links)}`);
    run.check(!(await list.textContent()).includes('返品の社内手順'), `the home lists a non-public article: ${JSON.stringify(links)}`);
    const other = await page.getByTestId('help-lang').getAttribute('href');
    run.check(!!other && new URL(other, page.url()).pathname === '/help/en/', `the language link goes to ${other}`);
  });

  await run.step('searching 「返品したい」 finds the public article, not the internal one; it opens', async () => {
    await search(page, 'ja', '返品したい');
    await page.getByTestId('help-results').waitFor();
    const results = page.getByTestId('help-result');
    const texts = await results.allTextContents();
    run.check(texts.some((x) => x.includes('返品方法について')), `results ${JSON.stringify(texts)}`);
    run.check(!texts.some((x) => x.includes('社内手順')), `a non-public article is found: ${JSON.stringify(texts)}`);
    run.check((await page.getByTestId('help-no-results').count()) === 0, 'help-no-results shows beside results');
    const hit = results.filter({ hasText: '返品方法について' }).first();
    run.check((await hit.getByTestId('help-snippet').count()) === 1, 'the result has no snippet');
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith('/help/ja/articles/')), hit.locator('a').first().click()]);
    const title = (await page.getByTestId('help-title').textContent()).trim();
    run.check(title === '返品方法について', `title ${JSON.stringify(title)}`);
    const paragraphs = await page.getByTestId('help-body').locator('p').count();
    run.check(paragraphs === 2, `${paragraphs} paragraphs, not 2`);
    run.check((await page.getByTestId('help-body').textContent()).includes('30日以内'), 'the body does not say 30日以内');
    const chat = await page.getByTestId('help-chat').getAttribute('href');
    const chatUrl = chat ? new URL(chat, page.url()) : null;
    run.check(!!chatUrl && chatUrl.pathname === '/chat/' && chatUrl.searchParams.get('lang') === 'ja', `the chat link goes to ${chat}`);
  });

  await run.step('"No" on the feedback form is thanked', async () => {
    await feedback(page, 'help-helpful-no');
  });

  await run.step('an English search for "refund" shows the markup article as text, not the voice-only one', async () => {
    const res = await page.goto(`${BASE}/help/en/search?q=refund`);
    run.check(!!res && res.ok(), `GET /help/en/search answered ${res && res.status()}`);
    await page.getByTestId('help-results').waitFor();
    const results = page.getByTestId('help-result');
    const texts = await results.allTextContents();
    run.check(texts.some((x) => x.includes('<script>')), `no result shows <script> as text: ${JSON.stringify(texts)}`);
    run.check(!texts.some((x) => x.includes('Phone menu')), `a voice-only article is found: ${JSON.stringify(texts)}`);
    run.check((await page.getByTestId('help-results').locator('script, img').count()) === 0, 'the results hold elements from the article text');
    await noScriptRan(page);
  });

  await run.step('the markup article shows its markup as text', async () => {
    const hit = page.getByTestId('help-result').filter({ hasText: '<script>' }).first();
    await Promise.all([page.waitForURL((url) => url.pathname.startsWith('/help/en/articles/')), hit.locator('a').first().click()]);
    const title = await page.getByTestId('help-title').textContent();
    run.check(title.includes('<img src=x'), `title ${JSON.stringify(title)}`);
    const body = await page.getByTestId('help-body').textContent();
    run.check(body.includes('<script>window.__xss=3</script>'), `body ${JSON.stringify(body)}`);
    run.check((await page.locator('[data-testid="help-title"] img, [data-testid="help-body"] script, [data-testid="help-body"] b').count()) === 0, 'the article holds elements from its text');
    await noScriptRan(page);
  });

  await run.step('"Yes" on the feedback form is thanked', async () => {
    await feedback(page, 'help-helpful-yes');
    await noScriptRan(page);
  });

  await run.step('searching "phone menu" finds nothing on the web', async () => {
    const res = await page.goto(`${BASE}/help/en/`);
    run.check(!!res && res.ok(), `GET /help/en/ answered ${res && res.status()}`);
    await search(page, 'en', 'phone menu');
    await page.getByTestId('help-no-results').waitFor({ state: 'visible' });
    run.check((await page.getByTestId('help-result').count()) === 0, 'a result shows');
    await noScriptRan(page);
  });
});
