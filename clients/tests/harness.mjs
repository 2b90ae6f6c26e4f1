// tests/harness.mjs — owns what every browser test repeats: the run's name in its
// verdict, the overall timeout, named steps, checks, page errors collected and
// reported, Debian's chromium launched through playwright-core (never a downloaded
// browser; a script may add flags, e.g. fake media devices), the agent's sign-in on
// /agent/, and the final verdict line the Rust side waits for ("<name> browser test
// passed", exit 0; else exit 1 naming the step).
//
//   const run = harness('public reply');   // or harness('x', { args: ['--flag'] })
//   await run.main(async (browser) => { await run.step('...', async () => { ... }); });

import { chromium } from 'playwright-core';

const OVERALL_TIMEOUT_MS = 90_000;
export const STEP_TIMEOUT_MS = 20_000;

/** The engine under test, from `SWITCHBOARD_URL` (no trailing slash). */
export const BASE = (process.env.SWITCHBOARD_URL || '').replace(/\/+$/, '');

/**
 * One browser test run named `name`.
 * @param {string} name
 * @param {{ args?: string[] }} [options]  `args`: chromium flags added to the usual ones
 */
export function harness(name, { args = [] } = {}) {
  let currentStep = 'start';
  /** @type {string[]} */
  const pageErrors = [];
  /** @type {import('playwright-core').Browser | null} */
  let browser = null;

  /** @param {string} message */
  const fail = (message) => {
    console.error(`${name} browser test FAILED at step "${currentStep}": ${message}`);
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    process.exit(1);
  };

  return {
    pageErrors,
    fail,
    /**
     * @param {string} stepName
     * @param {() => Promise<void>} fn
     */
    async step(stepName, fn) {
      currentStep = stepName;
      console.log(`- ${stepName}`);
      await fn();
    },
    /**
     * @param {boolean} cond
     * @param {string} message
     */
    check(cond, message) {
      if (!cond) throw new Error(message);
    },
    /**
     * A page of a new context whose script errors are collected.
     * @param {import('playwright-core').BrowserContextOptions} [options]
     */
    async page(options = {}) {
      const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1366, height: 860 }, ...options });
      ctx.setDefaultTimeout(STEP_TIMEOUT_MS);
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      return page;
    },
    /**
     * Signs `agentId` in on /agent/ and makes them available.
     * @param {import('playwright-core').Page} page
     * @param {string} agentId
     * @param {string} password
     */
    async signIn(page, agentId, password) {
      await page.goto(`${BASE}/agent/`);
      await page.getByTestId('login-agent-id').fill(agentId);
      await page.getByTestId('login-password').fill(password);
      await page.getByTestId('login-submit').click();
      await page.locator('[data-testid="connection-indicator"][data-state="connected"]').waitFor();
      await page.getByTestId('status-select').selectOption('available');
    },
    /**
     * Launches chromium, runs `body`, checks that no page had a script error, and
     * ends the process with the verdict.
     * @param {() => Promise<void>} body
     */
    async main(body) {
      setTimeout(() => fail('overall timeout'), OVERALL_TIMEOUT_MS).unref();
      try {
        browser = await chromium.launch({
          executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
          args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...args],
        });
        await body();
        currentStep = 'no script errors';
        if (pageErrors.length) throw new Error(pageErrors.join(' | '));
        await browser.close();
      } catch (e) {
        fail(e && e.message ? e.message.split('\n')[0] : String(e));
      }
      console.log(`${name} browser test passed`);
      process.exit(0);
    },
  };
}
