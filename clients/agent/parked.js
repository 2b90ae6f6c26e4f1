// agent/parked.js — owns the sidebar's list of parked conversations (oldest first):
// one item each with the customer (when this page knew them), channel, queue and when
// it was parked, and its two actions: take it back (`unpark`: offered to this agent
// when a slot is free) and resolve it (`resolve`). Hidden while nothing is parked.

import { t, formatTime } from '../shared/i18n.js';
import { h, replaceChildren, byId } from '../shared/dom.js';
import { state } from './state.js';
import { channelBadge } from './labels.js';
import { sendNow } from './wire.js';
import { openResolveFor } from './actions.js';

export function renderParkedList() {
  const entries = [...state.parked.values()].sort((a, b) => a.view.parked_at - b.view.parked_at);
  byId('parked-panel').hidden = entries.length === 0;
  byId('parked-count').textContent = String(entries.length);
  replaceChildren(
    byId('parked-list'),
    ...entries.map(({ view, name }) =>
      h(
        'li',
        { class: 'conv-item parked-item', dataset: { testid: 'parked-item', conversationId: view.conversation_id } },
        h(
          'span',
          { class: 'conv-item__main' },
          h(
            'span',
            { class: 'conv-item__row' },
            h('span', { class: 'conv-item__name' }, name || t('parked.customer')),
            h('time', { class: 'conv-item__time', datetime: new Date(view.parked_at).toISOString() }, formatTime(view.parked_at)),
          ),
          h(
            'span',
            { class: 'conv-item__row conv-item__tags' },
            channelBadge(view.channel),
            view.auto ? h('span', { class: 'badge badge--soft' }, t('parked.auto')) : null,
            h('span', { class: 'conv-item__queue' }, view.queue),
          ),
          h(
            'span',
            { class: 'conv-item__row parked-item__actions' },
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn--small',
                dataset: { testid: 'parked-take-back' },
                onclick: () => sendNow({ type: 'unpark', conversation_id: view.conversation_id }),
              },
              t('parked.take_back'),
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'btn btn--small btn--ok',
                dataset: { testid: 'parked-resolve' },
                onclick: () => void openResolveFor(view.conversation_id, view.queue),
              },
              t('actions.resolve'),
            ),
          ),
        ),
      ),
    ),
  );
}
