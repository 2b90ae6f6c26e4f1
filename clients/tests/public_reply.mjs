// tests/public_reply.mjs — owns the end-to-end browser test of a public conversation on
// the agent desktop (/agent/): a Facebook Page comment waits as a `facebook_comments`
// conversation; the agent accepts it, sees the comment, and the "Reply via" picker
// offers the public channel (the default) and Messenger marked private; the agent
// answers in public, then picks Messenger and sends the private reply; both replies
// show in the one timeline; the agent hides the comment and the post shows it hidden,
// with a line saying who hid it.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=pat AGENT_PASSWORD=... \
//     node clients/tests/public_reply.mjs
//
// The engine must run with Messenger and `channels.public.facebook_comments` on and
// hold the waiting comment "Is the sale still on?". The Rust side checks what reached
// Meta. Prints "public reply browser test passed" and exits 0, or exits 1 with the
// failing step.

import { harness } from './harness.mjs';

const run = harness('public reply');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const PUBLIC_REPLY = 'Yes, until Sunday!';
const PRIVATE_REPLY = 'Here is your coupon code.';

await run.main(async () => {
  const agent = await run.page();
  const picker = agent.getByTestId('reply-channel');

  await run.step('agent accepts the Page comment', async () => {
    await run.signIn(agent, AGENT_ID, AGENT_PASSWORD);
    await agent.getByTestId('offer-card').first().getByTestId('offer-accept').click();
    await agent.locator('[data-testid="conversation-item"][data-state="assigned"]').waitFor();
    await agent.getByText('Is the sale still on?').first().waitFor();
  });

  await run.step('the picker offers the comments (default) and Messenger, private', async () => {
    await picker.waitFor();
    const options = await picker.locator('option').evaluateAll((os) => os.map((o) => [o.getAttribute('value'), o.textContent]));
    run.check(
      JSON.stringify(options) === JSON.stringify([['facebook_comments', 'Facebook comments'], ['messenger', 'Messenger (private)']]),
      `picker options ${JSON.stringify(options)}`,
    );
    run.check((await picker.inputValue()) === 'facebook_comments', `picker shows ${await picker.inputValue()}`);
  });

  await run.step('the agent answers in public', async () => {
    await agent.getByTestId('composer-input').fill(PUBLIC_REPLY);
    await agent.getByTestId('composer-send').click();
    await agent.locator('[data-testid="timeline"]').getByText(PUBLIC_REPLY).first().waitFor();
  });

  await run.step('the agent moves to Messenger with one private reply', async () => {
    await picker.selectOption('messenger');
    await agent.getByTestId('composer-input').fill(PRIVATE_REPLY);
    await agent.getByTestId('composer-send').click();
    await agent.locator('[data-testid="timeline"]').getByText(PRIVATE_REPLY).first().waitFor();
    await agent.locator('[data-testid="timeline"]').getByText(PUBLIC_REPLY).first().waitFor();
  });

  await run.step('the agent hides the comment; the timeline says so', async () => {
    const post = agent.locator('[data-testid="timeline-message"][data-kind="message_in"]').filter({ hasText: 'Is the sale still on?' });
    await post.getByTestId('post-hide').click();
    await post.locator('[data-testid="post-moderation"][data-state="hidden"]').waitFor();
    run.check((await post.getByTestId('post-unhide').count()) === 1, 'no "show again" after hiding');
    await agent.locator('[data-testid="timeline-system"][data-kind="post_moderated"]').getByText('hid the post on Facebook comments').waitFor();
  });
});
