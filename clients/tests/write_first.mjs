// tests/write_first.mjs — owns the end-to-end browser test of "Write first…" on the
// agent desktop (/agent/): the agent opens the form, a customer they never served is
// refused in the form with the reason, then the agent writes first by SMS to a
// customer they served; the conversation is offered to them, they accept it, and the
// timeline shows the message they sent.
//
//   SWITCHBOARD_URL=http://127.0.0.1:43210 AGENT_ID=wes AGENT_PASSWORD=... \
//     node clients/tests/write_first.mjs
//
// The engine must run with SMS on and hold a customer +819012345000 whose earlier
// conversation the agent resolved. The Rust side checks what reached Twilio. Prints
// "write first browser test passed" and exits 0, or exits 1 with the failing step.

import { harness } from './harness.mjs';

const run = harness('write first');
const AGENT_ID = process.env.AGENT_ID || '';
const AGENT_PASSWORD = process.env.AGENT_PASSWORD || '';
const FIRST = 'ご注文の商品が入荷しました。';

await run.main(async () => {
  const agent = await run.page();
  const form = agent.getByTestId('new-conversation-form');

  await run.step('agent opens "Write first…"', async () => {
    await run.signIn(agent, AGENT_ID, AGENT_PASSWORD);
    await agent.getByTestId('new-conversation').click();
    await form.waitFor();
    const channels = await agent.getByTestId('new-conv-channel').locator('option').evaluateAll((os) => os.map((o) => o.getAttribute('value')));
    run.check(!channels.includes('voice') && !channels.includes('chat') && channels.includes('sms'), `channels ${JSON.stringify(channels)}`);
  });

  await run.step('an unknown address is refused in the form', async () => {
    await agent.getByTestId('new-conv-channel').selectOption('sms');
    await agent.getByTestId('new-conv-address').fill('+819099999999');
    await agent.getByTestId('new-conv-text').fill('hello');
    await agent.getByTestId('new-conv-send').click();
    await agent.getByTestId('new-conv-error').getByText('No customer you serve has this SMS address').waitFor();
  });

  await run.step('the agent writes first by SMS and is offered the conversation', async () => {
    await agent.getByTestId('new-conv-address').fill('+81 90-1234-5000');
    await agent.getByTestId('new-conv-text').fill(FIRST);
    await agent.getByTestId('new-conv-send').click();
    await form.waitFor({ state: 'hidden' });
    await agent.getByTestId('offer-card').first().getByTestId('offer-accept').click();
    await agent.locator('[data-testid="conversation-item"][data-state="assigned"]').waitFor();
    await agent.locator('[data-testid="timeline-message"][data-kind="message_out"]').getByText(FIRST).first().waitFor();
  });
});
