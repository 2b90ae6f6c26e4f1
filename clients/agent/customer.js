// agent/customer.js — owns the customer panel of the selected conversation: name,
// avatar and priority, the facts (id, channel, queue, waiting since), the identities
// (opted-out ones marked, phone numbers with a Call button: a call out through the
// agent's own phone when the engine can place one (agentphone.js), else the phone
// softphone's click-to-call) and the attributes. The assist panel below it is assist.js's.

import { t, formatTime, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { customerName, initials, channelBadge } from './labels.js';
import { optedOutChannels } from './reply-channel.js';
import { dialOut, softphoneReady, phoneCallLive, isDialable } from './softphone.js';
import { agentPhone, agentPhoneCanCallOut, agentPhoneCallingOut, callOutViaPhone } from './agentphone.js';

/** @import { Conv } from './state.js' */
/** @import { Child } from '../shared/dom.js' */

/** The channels whose identities are phone numbers click-to-call can call. */
const PHONE_CHANNELS = new Set(['voice', 'sms', 'whatsapp']);

/**
 * The Call button of a phone identity, or null when it cannot be used: neither the
 * agent's own phone can call out nor the softphone is ready, or the conversation is not
 * held (assigned or wrap-up). Through the agent's own phone when it can call out (as for
 * incoming calls, it wins over the softphone), else the softphone's click-to-call.
 * Disabled while a phone call is live or a call out is being asked for.
 * @param {Conv} conv
 * @param {{ channel: string, address: string }} identity
 */
function dialButton(conv, identity) {
  if (!PHONE_CHANNELS.has(identity.channel) || !isDialable(identity.address)) return null;
  const viaPhone = agentPhoneCanCallOut();
  if (!(viaPhone || softphoneReady()) || (conv.state !== 'assigned' && conv.state !== 'wrap_up')) return null;
  const label = viaPhone
    ? t('customer.dial_label_phone', { phone: identity.address, mine: agentPhone() })
    : t('customer.dial_label', { phone: identity.address });
  return h(
    'button',
    {
      type: 'button',
      class: 'btn btn--small identities__dial',
      dataset: { testid: 'customer-dial', address: identity.address, channel: identity.channel },
      title: label,
      'aria-label': label,
      disabled: phoneCallLive() || agentPhoneCallingOut(),
      onclick: () => {
        if (agentPhoneCanCallOut()) void callOutViaPhone(conv.view.id, identity.address);
        else dialOut(conv.view.id, identity.address);
      },
    },
    t('customer.dial'),
  );
}

/** @param {Conv} conv */
export function renderCustomerPanel(conv) {
  const c = conv.view.customer;
  const optedOut = optedOutChannels(conv);
  // The panel is redrawn whole: a focused Call button keeps the focus.
  const active = document.activeElement;
  const focusedDial = active instanceof HTMLElement && active.dataset.testid === 'customer-dial' ? active.dataset.address || '' : '';
  const body = byId('customer-body');
  const hadFocus = !!focusedDial && body.contains(active);
  /**
   * @param {string} label
   * @param {...Child} value
   */
  const row = (label, ...value) => [h('dt', null, label), h('dd', null, ...value)];
  const identities = c.identities && c.identities.length
    ? h(
        'ul',
        { class: 'identities' },
        ...c.identities.map((i) =>
          h(
            'li',
            null,
            channelBadge(i.channel),
            ' ',
            h('span', { class: 'identities__addr' }, i.address),
            optedOut.has(i.channel) ? h('span', { class: 'badge badge--soft identities__opted-out' }, t('customer.opted_out')) : null,
            dialButton(conv, i),
          ),
        ),
      )
    : h('span', { class: 'muted' }, t('common.none'));
  const attrs = Object.entries(c.attributes || {});
  const attributes = attrs.length
    ? h('dl', { class: 'attrs' }, ...attrs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]))
    : h('span', { class: 'muted' }, t('common.none'));
  replaceChildren(
    body,
    h(
      'div',
      { class: 'customer-card' },
      h('span', { class: 'avatar avatar--lg', 'aria-hidden': 'true' }, initials(customerName(c))),
      h('div', { class: 'customer-card__name', dataset: { testid: 'customer-name' } }, customerName(c)),
      c.priority ? h('span', { class: 'badge badge--soft' }, t('offer.priority', { p: c.priority })) : null,
    ),
    h(
      'dl',
      { class: 'facts' },
      row(t('customer.id'), h('code', { class: 'mono' }, String(c.id))),
      row(t('customer.priority'), String(c.priority ?? 0)),
      row(t('customer.channel'), channelBadge(conv.view.channel)),
      row(t('customer.queue'), conv.view.queue),
      row(t('customer.since'), h('span', { title: formatDateTime(conv.view.enqueued_at) }, formatTime(conv.view.enqueued_at))),
    ),
    h('h4', { class: 'subhead' }, t('customer.identities')),
    identities,
    h('h4', { class: 'subhead' }, t('customer.attributes')),
    attributes,
  );
  if (hadFocus) {
    const again = [...body.querySelectorAll('[data-testid="customer-dial"]')].find(
      (b) => b instanceof HTMLElement && b.dataset.address === focusedDial,
    );
    if (again instanceof HTMLElement) again.focus();
  }
}
