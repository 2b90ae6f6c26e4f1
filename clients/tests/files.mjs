// tests/files.mjs — owns the end-to-end browser test of files (docs/attachments.md): a
// visitor on /chat/ picks an image and a PDF with the 📎 picker (uploaded with their
// visitor token, sent as one message); the agent on /agent/ accepts, and the timeline
// shows the image decoded from the stored bytes and a PDF preview whose blob holds the
// PDF the visitor sent, each with a download link; the agent attaches a text file to a
// reply; the visitor's page shows it with a working download link whose bytes are the
// agent's file. A file of a type the engine refuses is refused in the composer with the
// reason, and nothing is sent.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=fay AGENT_PASSWORD=... \
//     node clients/tests/files.mjs
//
// Prints "files browser test passed" and exits 0, or exits 1 with the failing step.

import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;
const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';

// A 2x1 PNG (red, blue).
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAYAAAD0In+KAAAAEUlEQVR4nGP4z8DwHwQZGBgAL/8G+jYNsRAAAAAASUVORK5CYII=',
  'base64',
);
const PDF = Buffer.from(
  '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n' +
    '3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n',
);
const REPLY_TEXT = 'Your receipt, as promised.\n領収書をお送りします。\n';

/** @type {import('playwright-core').Browser | null} */
let browser = null;
let currentStep = 'start';
/** @type {string[]} */
const pageErrors = [];

/** @param {string} message */
function fail(message) {
  console.error(`files browser test FAILED at step "${currentStep}": ${message}`);
  if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
  process.exit(1);
}
setTimeout(() => fail('overall timeout'), OVERALL_TIMEOUT_MS).unref();

/**
 * @param {string} name
 * @param {() => Promise<void>} fn
 */
async function step(name, fn) {
  currentStep = name;
  console.log(`- ${name}`);
  await fn();
}

/**
 * @param {boolean} cond
 * @param {string} message
 */
function check(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * The type and text of the bytes behind a `blob:` URL of `ctx`'s pages. Read from a
 * page of the same origin without the clients' CSP (`/healthz`): the pages' own
 * `connect-src 'self'` rightly keeps scripts from fetching blobs.
 * @param {import('playwright-core').BrowserContext} ctx
 * @param {string} url
 */
async function blobText(ctx, url) {
  const page = await ctx.newPage();
  try {
    await page.goto(`${BASE}/healthz`);
    return await page.evaluate(async (u) => {
      const blob = await (await fetch(u)).blob();
      return { type: blob.type, text: await blob.text() };
    }, url);
  } finally {
    await page.close();
  }
}

async function main() {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const agentCtx = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 }, acceptDownloads: true });
  const visitorCtx = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 760 }, acceptDownloads: true });
  agentCtx.setDefaultTimeout(STEP_TIMEOUT_MS);
  visitorCtx.setDefaultTimeout(STEP_TIMEOUT_MS);
  const agent = await agentCtx.newPage();
  const visitor = await visitorCtx.newPage();
  for (const p of [agent, visitor]) {
    p.on('pageerror', (e) => pageErrors.push(e.message));
    // A preview the pages' CSP blocks is a failure too (the browser only logs it).
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
  }

  await step('agent logs in and becomes available', async () => {
    await agent.goto(`${BASE}/agent/`);
    await agent.getByTestId('login-agent-id').fill(AGENT_ID);
    await agent.getByTestId('login-password').fill(AGENT_PASSWORD);
    await agent.getByTestId('login-submit').click();
    await agent.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
    await agent.getByTestId('status-select').selectOption('available');
  });

  await step('visitor sends an image and a PDF with the picker', async () => {
    await visitor.goto(`${BASE}/chat/`);
    await visitor.getByTestId('chat-input').waitFor();
    // The picker works once the socket's welcome named the customer.
    await visitor.waitForFunction(() => !!localStorage.getItem('switchboard.chat.token'));
    await visitor.getByTestId('chat-file').setInputFiles([
      { name: 'photo.png', mimeType: 'image/png', buffer: PNG },
      { name: 'invoice.pdf', mimeType: 'application/pdf', buffer: PDF },
    ]);
    const sent = visitor.locator('[data-testid="chat-message"][data-role="customer"]:not([data-pending])');
    await sent.locator('[data-testid="file-image"]').waitFor();
    await visitor.locator('[data-testid="attachment"][data-loaded="true"][data-kind="image"]').waitFor();
  });

  await step('agent accepts and sees the image decoded from the stored bytes', async () => {
    await agent.getByTestId('offer-card').first().getByTestId('offer-accept').click();
    await agent.locator('[data-testid="conversation-item"][data-state="assigned"]').waitFor();
    const img = agent.locator('[data-testid="timeline"] [data-testid="file-image"]').first();
    await agent.locator('[data-testid="timeline"] [data-testid="attachment"][data-kind="image"][data-loaded="true"]').waitFor();
    const size = await img.evaluate(async (el) => {
      const image = /** @type {HTMLImageElement} */ (el);
      await image.decode();
      return [image.naturalWidth, image.naturalHeight];
    });
    check(size[0] === 2 && size[1] === 1, `the image decodes as 2x1, got ${size}`);
    const link = agent.locator('[data-testid="timeline"] [data-testid="attachment"][data-kind="image"] [data-testid="file-download"]');
    check((await link.getAttribute('download')) === 'photo.png', 'the download link names the file');
    check(((await link.getAttribute('href')) || '').startsWith('blob:'), 'the link is a blob of the fetched bytes (no token in a URL)');
  });

  await step('agent opens the PDF preview: the bytes the visitor sent', async () => {
    const pdf = agent.locator('[data-testid="timeline"] [data-testid="file-pdf"]');
    await agent.locator('[data-testid="timeline"] [data-testid="attachment"][data-loaded="true"] [data-testid="file-pdf"]').waitFor();
    const src = (await pdf.getAttribute('src')) || '';
    check(src.startsWith('blob:'), `the preview shows a blob, got ${src}`);
    const got = await blobText(agentCtx, src);
    check(got.type === 'application/pdf', `the preview's blob is a PDF, got ${got.type}`);
    check(got.text === PDF.toString(), 'the preview holds the bytes the visitor sent');
    const download = agent.waitForEvent('download');
    await agent.locator('[data-testid="timeline"] [data-testid="attachment"]:has([data-testid="file-pdf"]) [data-testid="file-download"]').click();
    const d = await download;
    check(d.suggestedFilename() === 'invoice.pdf', `downloaded as ${d.suggestedFilename()}`);
  });

  await step('a file of a refused type is refused in the composer, with the reason', async () => {
    await agent.getByTestId('composer-file').setInputFiles([{ name: 'page.html', mimeType: 'text/html', buffer: Buffer.from('<script>alert(1)</script>') }]);
    const chip = agent.locator('[data-testid="composer-file-chip"][data-state="failed"]');
    await chip.waitFor();
    check((await chip.innerText()).includes('text/html'), `the chip says why: ${await chip.innerText()}`);
    await chip.getByRole('button').click();
    await agent.locator('[data-testid="composer-file-chip"]').waitFor({ state: 'detached' });
  });

  await step('agent sends a file back with a reply', async () => {
    await agent.getByTestId('composer-file').setInputFiles([{ name: 'receipt.txt', mimeType: 'text/plain', buffer: Buffer.from(REPLY_TEXT) }]);
    await agent.locator('[data-testid="composer-file-chip"][data-state="ready"]').waitFor();
    await agent.getByTestId('composer-input').fill('Here is your receipt.');
    await agent.getByTestId('composer-send').click();
    await agent.locator('[data-testid="composer-file-chip"]').waitFor({ state: 'detached' });
    await agent
      .locator('[data-testid="timeline-message"][data-kind="message_out"]:not([data-pending]) [data-testid="attachment"][data-loaded="true"]')
      .waitFor();
  });

  await step('the visitor receives it and downloads the agent\'s bytes', async () => {
    const row = visitor.locator('[data-testid="chat-message"][data-role="agent"]').filter({ hasText: 'Here is your receipt.' });
    await row.locator('[data-testid="attachment"][data-loaded="true"]').waitFor();
    const link = row.locator('[data-testid="file-download"]');
    const href = (await link.getAttribute('href')) || '';
    check(href.startsWith('blob:'), 'a blob link');
    const got = await blobText(visitorCtx, href);
    check(got.text === REPLY_TEXT, 'the visitor gets the bytes the agent sent');
    const download = visitor.waitForEvent('download');
    await link.click();
    check((await download).suggestedFilename() === 'receipt.txt', 'downloaded under its name');
  });

  check(pageErrors.length === 0, `page errors: ${pageErrors.join('; ')}`);
  await browser.close();
  console.log('files browser test passed');
}

main().catch((e) => fail(e instanceof Error ? e.message : String(e)));
