// tests/admin_survey.mjs — owns the browser test of the console's survey settings
// (/admin/, Surveys): the settings file's values are shown as such; a comment limit of
// 0 and an answer window of 0 hours are refused with an error under each and nothing
// is saved; surveys are turned on with a 2-hour window, a 500-byte comment limit and
// English, and the page shows version 1; reloading the section shows what was saved.
// The Rust side then checks the engine sends surveys without a restart.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_survey.mjs
//
// Prints "admin survey browser test passed" and exits 0, or exits 1 with the failing step.

import { harness, BASE } from './harness.mjs';

const ADMIN_ID = process.env.ADMIN_ID || 'admin';
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD || '';
if (!BASE || !ADMIN_PASSWORD) {
  console.error('usage: SWITCHBOARD_URL=… ADMIN_ID=admin ADMIN_PASSWORD=… node clients/tests/admin_survey.mjs');
  process.exit(2);
}

const run = harness('admin survey');

await run.main(async () => {
  const page = await run.page();

  await run.step('the admin opens the survey settings from the file', async () => {
    await page.goto(`${BASE}/admin/?lang=en`);
    await page.getByTestId('login-id').fill(ADMIN_ID);
    await page.getByTestId('login-password').fill(ADMIN_PASSWORD);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('agent-row').first().waitFor();
    await page.getByTestId('tab-survey').click();
    await page.getByTestId('survey-version').filter({ hasText: 'settings file' }).waitFor();
    run.check(!(await page.getByTestId('survey-enabled').isChecked()), 'surveys are on before anyone turned them on');
    run.check((await page.getByTestId('survey-window-hours').inputValue()) === '24', 'the default window is not 24 hours');
  });

  await run.step('bad values are refused field by field and nothing is saved', async () => {
    await page.getByTestId('survey-enabled').check();
    await page.getByTestId('survey-window-hours').fill('0');
    await page.getByTestId('survey-max-comment').fill('0');
    await page.getByTestId('survey-save').click();
    await page.getByTestId('survey-error-answer_window_ms').waitFor({ state: 'visible' });
    await page.getByTestId('survey-error-max_comment_bytes').waitFor({ state: 'visible' });
    run.check((await page.getByTestId('survey-version').textContent()).includes('settings file'), 'a version was saved');
  });

  await run.step('surveys are turned on', async () => {
    await page.getByTestId('survey-window-hours').fill('2');
    await page.getByTestId('survey-max-comment').fill('500');
    await page.getByTestId('survey-language').selectOption('en');
    await page.getByTestId('survey-save').click();
    await page.getByTestId('survey-version').filter({ hasText: 'Version 1' }).waitFor();
    run.check(await page.getByTestId('survey-error-answer_window_ms').isHidden(), 'an old error is still shown');
  });

  await run.step('the saved settings are what the section loads', async () => {
    await page.reload();
    await page.getByTestId('agent-row').first().waitFor();
    await page.getByTestId('tab-survey').click();
    await page.getByTestId('survey-version').filter({ hasText: 'Version 1' }).waitFor();
    run.check(await page.getByTestId('survey-enabled').isChecked(), 'not on after reload');
    run.check((await page.getByTestId('survey-window-hours').inputValue()) === '2', 'window not 2 hours');
    run.check((await page.getByTestId('survey-max-comment').inputValue()) === '500', 'comment limit not 500');
    run.check((await page.getByTestId('survey-language').inputValue()) === 'en', 'language not English');
  });
});
