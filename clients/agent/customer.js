// agent/customer.js — owns the customer panel of the selected conversation: name,
// avatar and priority, the facts (id, channel, queue, waiting since), the identities
// (opted-out ones marked) and the attributes. The assist panel below it is assist.js's.

import { t, formatTime, formatDateTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { customerName, initials, channelBadge } from './labels.js';
import { optedOutChannels } from './reply-channel.js';

/** @import { Conv } from './state.js' */
/** @import { Child } from '../shared/dom.js' */

/** @param {Conv} conv */
export function renderCustomerPanel(conv) {
  const c = conv.view.customer;
  const optedOut = optedOutChannels(conv);
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
          ),
        ),
      )
    : h('span', { class: 'muted' }, t('common.none'));
  const attrs = Object.entries(c.attributes || {});
  const attributes = attrs.length
    ? h('dl', { class: 'attrs' }, ...attrs.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]))
    : h('span', { class: 'muted' }, t('common.none'));
  replaceChildren(
    byId('customer-body'),
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
}
