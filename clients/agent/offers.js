// agent/offers.js — owns the offer cards: one card per open offer, soonest expiry
// first, with a live countdown and bar, the customer's wait, and Accept / Reject
// (`accept` / `reject` frames). A card whose deadline passed without a revocation is
// dropped locally after a grace period (tickOffers).

import { t, formatDuration, channelName } from '../shared/i18n.js';
import { h, reconcile, byId } from '../shared/dom.js';
import { state } from './state.js';
import { customerName, channelBadge } from './labels.js';
import { notice } from './notices.js';
import { renderTitle } from './header.js';
import { sendNow } from './wire.js';

/** @import { Offer } from './frames.js' */
/** @import { OfferEntry } from './state.js' */

const OFFER_LOCAL_GRACE_MS = 5000;

/** @type {Map<string, HTMLElement>} offer_id -> card */
const offerCache = new Map();

/** Drops the cached cards (new session, new welcome); `empty` also empties the panel. */
export function forgetOfferCards(empty = false) {
  offerCache.clear();
  if (empty) byId('offers').replaceChildren();
}

export function renderOffers() {
  const container = byId('offers');
  const items = [...state.offers.values()]
    .sort((a, b) => a.offer.expires_at - b.offer.expires_at)
    .map((entry) => ({ key: entry.offer.offer_id, render: () => buildOffer(entry) }));
  reconcile(container, items, offerCache);
  for (const id of state.offers.keys()) paintOffer(id);
  const count = byId('offers-count');
  count.textContent = String(state.offers.size);
  count.hidden = state.offers.size === 0;
  const panel = container.closest('.offers-panel');
  if (panel) panel.classList.toggle('is-empty', state.offers.size === 0);
}

/**
 * A new or replaced offer (the `offer` frame): its card is built again.
 * @param {Offer} offer
 */
export function addOffer(offer) {
  state.offers.set(offer.offer_id, { offer, receivedAt: Date.now() });
  offerCache.delete(offer.offer_id);
  renderOffers();
  renderTitle();
}

/**
 * @param {string} offerId
 * @param {boolean} [render] redraw the panel and the title (false: the caller will)
 */
export function removeOffer(offerId, render = true) {
  state.offers.delete(offerId);
  const node = offerCache.get(offerId);
  if (node) node.remove();
  offerCache.delete(offerId);
  if (render) {
    renderOffers();
    renderTitle();
  }
}

/** @param {string} offerId */
function accept(offerId) {
  const entry = state.offers.get(offerId);
  if (!entry || entry.accepting) return;
  if (!sendNow({ type: 'accept', offer_id: offerId })) return;
  entry.accepting = true;
  entry.acceptingSince = Date.now();
  state.acceptedHere.add(entry.offer.conversation_id);
  paintOffer(offerId);
}

/** @param {string} offerId */
function reject(offerId) {
  const entry = state.offers.get(offerId);
  if (!entry) return;
  if (!sendNow({ type: 'reject', offer_id: offerId })) return;
  removeOffer(offerId);
  notice(t('notice.offer_rejected', { name: customerName(entry.offer.customer) }), 'info', { testid: 'offer-outcome-rejected' });
}

/** @param {OfferEntry} entry */
function buildOffer(entry) {
  const o = entry.offer;
  const name = customerName(o.customer);
  const card = h(
    'article',
    {
      class: 'offer',
      dataset: { testid: 'offer-card', offerId: o.offer_id, conversationId: o.conversation_id, channel: o.channel },
      'aria-label': t('offer.aria', { name, channel: channelName(o.channel) }),
    },
    h(
      'div',
      { class: 'offer__top' },
      channelBadge(o.channel),
      h('span', { class: 'offer__queue', dataset: { testid: 'offer-queue' } }, t('offer.queue', { q: o.queue })),
      o.priority ? h('span', { class: 'badge badge--soft' }, t('offer.priority', { p: o.priority })) : null,
      h('span', { class: 'offer__countdown', dataset: { testid: 'offer-countdown' }, 'aria-hidden': 'true' }),
    ),
    h('div', { class: 'offer__who', dataset: { testid: 'offer-customer' } }, name),
    h(
      'p',
      { class: `offer__preview${o.preview ? '' : ' offer__preview--empty'}`, dataset: { testid: 'offer-preview' } },
      o.preview || t('offer.no_preview'),
    ),
    h('div', { class: 'offer__meta', dataset: { testid: 'offer-waited' } }),
    h('div', { class: 'offer__bar', 'aria-hidden': 'true' }, h('span', { class: 'offer__bar-fill' })),
    h(
      'div',
      { class: 'offer__actions' },
      h(
        'button',
        { type: 'button', class: 'btn btn--primary offer__accept', dataset: { testid: 'offer-accept' }, onclick: () => accept(o.offer_id) },
        t('offer.accept'),
      ),
      h(
        'button',
        { type: 'button', class: 'btn offer__reject', dataset: { testid: 'offer-reject' }, onclick: () => reject(o.offer_id) },
        t('offer.reject'),
      ),
    ),
  );
  return card;
}

/**
 * Local clock time at which the offer expires: expires_at corrected by the skew measured
 * at welcome, but never later than timeout_ms after the offer arrived (network latency
 * makes the skew estimate err towards showing too much time).
 * @param {OfferEntry} entry
 */
function offerDeadline(entry) {
  const o = entry.offer;
  const bySkew = o.expires_at - state.skew;
  return o.timeout_ms ? Math.min(bySkew, entry.receivedAt + o.timeout_ms) : bySkew;
}

/**
 * Updates the live parts of an offer card (countdown, waited time, button state).
 * @param {string} offerId
 */
function paintOffer(offerId) {
  const entry = state.offers.get(offerId);
  const card = offerCache.get(offerId);
  if (!entry || !card) return;
  const o = entry.offer;
  const left = offerDeadline(entry) - Date.now();
  const total = o.timeout_ms || Math.max(1, offerDeadline(entry) - entry.receivedAt);
  const secs = Math.max(0, Math.ceil(left / 1000));
  const expired = left <= 0;
  /** @param {string} selector */
  const part = (selector) => /** @type {HTMLElement} */ (card.querySelector(selector));
  const countdown = part('.offer__countdown');
  const text = expired ? t('offer.expired') : t('offer.expires_in', { s: secs });
  if (countdown.textContent !== text) countdown.textContent = text;
  card.classList.toggle('offer--urgent', !expired && left < 5000);
  card.classList.toggle('offer--expired', expired);
  const fill = part('.offer__bar-fill');
  fill.style.width = `${Math.max(0, Math.min(100, (left / total) * 100))}%`;
  const waited = formatDuration(o.waited_ms + (Date.now() - entry.receivedAt));
  const waitedText = t('offer.waited', { d: waited });
  const meta = part('.offer__meta');
  if (meta.textContent !== waitedText) meta.textContent = waitedText;
  const acceptBtn = /** @type {HTMLButtonElement} */ (part('.offer__accept'));
  acceptBtn.disabled = !!entry.accepting || expired;
  const label = entry.accepting ? t('offer.accepting') : t('offer.accept');
  if (acceptBtn.textContent !== label) acceptBtn.textContent = label;
  /** @type {HTMLButtonElement} */ (part('.offer__reject')).disabled = !!entry.accepting || expired;
}

/**
 * Every 250 ms: repaints the cards, drops the ones whose revocation never came.
 * @param {number} now local clock, ms
 */
export function tickOffers(now) {
  for (const [id, entry] of state.offers) {
    paintOffer(id);
    // If the revocation never comes (e.g. lost while reconnecting) drop the card.
    const stuck = entry.accepting && now - (entry.acceptingSince || 0) > 10_000;
    if (offerDeadline(entry) + OFFER_LOCAL_GRACE_MS < now && (!entry.accepting || stuck)) {
      removeOffer(id);
      notice(t('notice.offer_timed_out', { name: customerName(entry.offer.customer) }), 'warn', { testid: 'offer-outcome-timed_out' });
    }
  }
}
