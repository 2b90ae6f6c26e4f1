// shared/i18n.js — owns the user-facing strings of both Switchboard web clients (agent
// desktop and customer web chat) in English and Japanese, the choice of language
// (?lang=ja|en, else the saved choice in localStorage, else navigator.language), the
// language toggle button, and locale-aware time, duration and size formatting.
//
// Strings are plain text: callers put them in the page with textContent only. `{name}`
// placeholders are filled by t(key, vars) and the values are never interpreted as HTML.

const STORAGE_KEY = 'switchboard.lang';
export const LANGS = ['en', 'ja'];

/** @type {Record<string, string>} */
const en = {
  // common
  'lang.toggle': '日本語',
  'lang.toggle_label': 'Switch language to Japanese (日本語に切り替え)',
  'conn.connecting': 'Connecting…',
  'conn.connected': 'Connected',
  'conn.reconnecting': 'Reconnecting…',
  'conn.reconnecting_in': 'Reconnecting in {s}s…',
  'conn.offline': 'Offline',
  'common.cancel': 'Cancel',
  'common.close': 'Close',
  'common.dismiss': 'Dismiss',
  'common.none': 'None',
  'common.unknown': 'Unknown',
  'customer.visitor': 'Visitor',

  'duration.s': '{s}s',
  'duration.ms': '{m}m {s}s',
  'duration.hm': '{h}h {m}m',
  'day.today': 'Today',
  'day.yesterday': 'Yesterday',

  'channel.chat': 'Chat',
  'channel.sms': 'SMS',
  'channel.email': 'Email',
  'channel.voice': 'Voice',
  'channel.line': 'LINE',
  'channel.messenger': 'Messenger',
  'channel.whatsapp': 'WhatsApp',
  'channel.instagram': 'Instagram',
  'channel.x': 'X',
  'channel.facebook_comments': 'Facebook comments',
  'channel.x_mentions': 'X mentions',
  'channel.video': 'Video',

  'error.title': 'Error',
  'error.bad_json': 'The server could not read a message from this page.',
  'error.unknown_type': 'The server did not understand a message from this page.',
  'error.too_large': 'That message is too large.',
  'error.invalid': 'That value was not accepted (empty or too long?).',
  'error.not_found': 'That conversation or customer no longer exists.',
  'error.not_yours': 'You no longer hold this conversation.',
  'error.offer_not_found': 'That offer is no longer available.',
  'error.queue_full': 'The queue is full right now. Please try again shortly.',
  'error.unavailable': 'The service is temporarily unavailable. Retrying…',
  'error.unauthorized': 'You are not allowed to do that.',
  'error.rate_limited': 'Too many messages — slow down a little.',
  'error.internal': 'Something went wrong on the server.',
  'error.not_connected': 'Not connected — try again once the connection is back.',

  // agent desktop
  'app.title': 'Switchboard',
  'app.subtitle': 'Agent desktop',
  'login.title': 'Sign in',
  'login.lead': 'Sign in with your agent ID to start taking conversations.',
  'login.agent_id': 'Agent ID',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.signing_in': 'Signing in…',
  'login.bad_credentials': 'Incorrect agent ID or password.',
  'login.failed': 'Sign-in failed (HTTP {status}).',
  'login.unreachable': 'The server cannot be reached. Check your connection and try again.',
  'login.expired': 'Your session has expired. Please sign in again.',
  'login.stuck': 'Still cannot connect. Your session may have expired.',
  'login.sign_in_again': 'Sign in again',
  'login.sso.refused': 'Single sign-on failed. Try again, or ask your administrator.',
  'login.sso.no_role': 'Your account at the identity provider has no group that grants access here.',
  'login.sso.unknown_agent': 'Your sign-in worked, but there is no agent account for you here.',
  'login.sso.disabled': 'Your agent account is disabled.',
  'login.sso.unavailable': 'The identity provider cannot be reached. Try again shortly.',
  'login.sso.denied': 'The identity provider did not complete the sign-in.',
  'header.logout': 'Sign out',
  'header.connection': 'Connection',

  'status.label': 'Status',
  'status.available': 'Available',
  'status.away': 'Away',
  'status.offline': 'Offline',
  'status.busy': 'Busy',
  'status.reason': 'Away reason',
  'reason.break': 'Break',
  'reason.lunch': 'Lunch',
  'reason.meeting': 'Meeting',
  'reason.training': 'Training',
  'reason.other': 'Other',
  'reason.login': 'Just signed in',
  'reason.missed': 'Missed offers',
  'reason.logout': 'Signed out',

  'offers.title': 'Incoming',
  'offer.waited': 'Waited {d}',
  'offer.queue': 'Queue {q}',
  'offer.priority': 'Priority {p}',
  'offer.expires_in': '{s}s left',
  'offer.expired': 'Expired',
  'offer.accept': 'Accept',
  'offer.reject': 'Reject',
  'offer.accepting': 'Accepting…',
  'offer.no_preview': 'No message yet',
  'offer.aria': 'New {channel} conversation from {name}',
  'notice.offer_timed_out': 'The offer from {name} timed out.',
  'notice.offer_rescinded': 'The offer from {name} was withdrawn (the customer left or it was rerouted).',
  'notice.offer_rejected': 'You rejected the offer from {name}.',
  'notice.offer_gone': 'That offer is no longer available.',
  'notice.conv_resolved': 'Conversation with {name} resolved.',
  'notice.conv_transferred': 'Conversation with {name} transferred.',
  'notice.conv_abandoned': '{name} left the conversation.',
  'notice.conv_closed': 'Conversation with {name} closed.',
  'notice.conv_parked': 'Conversation with {name} parked — your slot is free until they write again.',
  'notice.parked_returned': '{name} wrote again: the parked conversation is coming back to you.',
  'notice.resumed': 'Reconnected — your conversations were restored.',
  'notice.session_new': 'Reconnected with a new session — state reloaded.',
  'notice.status_missed': 'You were set to Away after missing offers.',

  'convs.title': 'Held conversations',
  'convs.empty': 'No conversations yet. Set your status to Available to receive work.',
  'convs.unread': '{n} unread',
  'conv.none_selected': 'Select a conversation',
  'conv.none_selected_hint': 'Accepted conversations appear in the list on the left.',
  'conv.state.queued': 'Queued',
  'conv.state.assigned': 'Active',
  'conv.state.wrap_up': 'Wrap-up',
  'conv.state.parked': 'Parked',
  'conv.state.resolved': 'Resolved',
  'conv.state.abandoned': 'Customer left',
  'conv.load_older': 'Load older messages',
  'conv.loading': 'Loading…',
  'conv.history_start': 'Beginning of history',
  'conv.typing': '{name} is typing…',
  'conv.customer_left': 'The customer has left. Resolve the conversation when you are done.',
  'conv.timeline': 'Timeline with {name}',
  'conv.show_info': 'Customer info',

  'composer.label': 'Reply',
  'composer.placeholder': 'Reply to {name}… (Enter to send, Shift+Enter for a new line)',
  'composer.note_placeholder': 'Internal note — never shown to the customer',
  'composer.send': 'Send',
  'composer.add_note': 'Add note',
  'composer.note': 'Note',
  'composer.note_hint': 'Internal note mode',
  'msg.sending': 'Sending…',
  'msg.failed': 'Not sent ({code})',
  'msg.retry': 'Retry',
  'msg.note': 'Internal note',
  'msg.agent': 'Agent {id}',
  'msg.you': 'You',
  'msg.you_lower': 'you',

  'actions.transfer': 'Transfer',
  'actions.wrap_up': 'Wrap-up',
  'actions.park': 'Park',
  'parked.title': 'Parked',
  'parked.customer': 'Customer',
  'parked.auto': 'Auto',
  'parked.take_back': 'Take back',
  'actions.resolve': 'Resolve',
  'transfer.title': 'Transfer conversation',
  'transfer.to_queue': 'To a queue',
  'transfer.to_agent': 'To an agent',
  'transfer.queue': 'Queue name',
  'transfer.agent': 'Agent ID',
  'transfer.agent_queue': 'In queue (optional)',
  'transfer.confirm': 'Transfer',
  'resolve.title': 'Resolve conversation',
  'resolve.disposition': 'Disposition',
  'resolve.notes': 'Details (optional)',
  'resolve.confirm': 'Resolve',
  'disp.resolved': 'Resolved',
  'resolve.choose_code': 'Choose a wrap-up code…',
  'resolve.code_required': 'This queue requires a wrap-up code.',
  'disp.follow_up': 'Follow-up needed',
  'disp.no_answer': 'No answer',
  'disp.spam': 'Spam',

  'customer.title': 'Customer',
  'customer.name': 'Name',
  'customer.id': 'Customer ID',
  'customer.priority': 'Priority',
  'customer.identities': 'Identities',
  'customer.attributes': 'Attributes',
  'customer.conversation': 'Conversation',
  'customer.queue': 'Queue',
  'customer.channel': 'Channel',
  'customer.since': 'Waiting since',

  'event.conversation_opened': 'Conversation opened on {channel} · {queue}',
  'event.queued': 'Queued in {queue}',
  'event.offered': 'Offered to {agent}',
  'event.offer_closed': 'Offer to {agent}: {outcome}',
  'event.assigned': 'Assigned to {agent}',
  'event.transferred': 'Transferred from {from} to {to}',
  'event.overflowed': 'Overflowed from {from} to {to}',
  'event.wrap_up': '{agent} started wrap-up',
  'event.resolved': 'Resolved by {agent}',
  'event.resolved_disp': 'Resolved by {agent} — {disposition}',
  'event.abandoned': 'Customer left after waiting {d}',
  'event.channel_switched': 'Switched from {from} to {to}',
  'event.identity_linked': 'Linked {channel} identity {address}',
  'event.identity_linked_because': 'Linked {channel} identity {address}: same customer because {reason}',
  'evidence.same_phone_number': 'same verified phone number',
  'evidence.login_token': 'signed in on the company\'s site',
  'evidence.messenger_account_linking': 'Messenger account linking',
  'evidence.agent': 'an agent linked it',
  'evidence.same_x_account': 'same X account',
  'evidence.private_reply': 'answered our private reply to their comment',
  'event.opted_out': 'Opted out of {channel}',
  'event.opted_in': 'Opted back in to {channel}',
  'event.conversation_reopened': 'Conversation reopened ({channel}) · {queue}',
  'event.call_detail': '{status}: {detail}',
  'event.video_invited': 'Video invitation:',
  'event.customers_merged': 'Customer record {id} merged into this one ({identities})',
  'event.customers_unmerged': 'Merge undone: {identities} went back to customer record {id}',
  'event.by_agent': '{text} — by {agent}',
  'event.message_status': '{channel} delivery: {status}',
  'call.ringing': 'Call ringing',
  'call.in_ivr': 'Call in the voice menu',
  'call.queued': 'Call waiting in the queue',
  'call.answered': 'Call answered',
  'call.ended': 'Call ended',
  'call.callback_requested': 'Callback requested',
  'call.other': 'Call: {status}',
  // browser calls (shared/call.js); `call.answered` and `call.ended` above serve them too
  'call.audio': 'Voice call',
  'call.video': 'Video call',
  'call.start_audio': 'Start a voice call',
  'call.start_video': 'Start a video call',
  'call.incoming_audio': 'Incoming voice call from {name}',
  'call.incoming_video': 'Incoming video call from {name}',
  'call.answer': 'Answer',
  'call.decline': 'Decline',
  'call.mute': 'Mute',
  'call.unmute': 'Unmute',
  'call.camera_off': 'Camera off',
  'call.camera_on': 'Camera on',
  'call.hangup': 'Hang up',
  'call.state.ringing': 'Ringing…',
  'call.state.connecting': 'Connecting…',
  'call.state.connected': 'Connected',
  'call.remote_label': 'Call with {name}',
  'call.local_label': 'Your camera',
  'call.started': '{media} started',
  'call.started_by': '{media} started by {who}',
  'call.ended_d': 'Call ended · {d}',
  'call.ended_reason': 'Call ended — {reason}',
  'call.ended_reason_d': 'Call ended — {reason} · {d}',
  'call.reason.hangup': 'hung up by {by}',
  'call.reason.declined': 'declined by {by}',
  'call.reason.busy': 'busy',
  'call.reason.no_answer': 'no answer',
  'call.reason.disconnected': '{by} disconnected',
  'call.reason.closed': 'the conversation closed',
  'call.reason.failed': 'the connection failed',
  'call.by.customer': 'the customer',
  'call.by.agent': 'the agent',
  'call.by.system': 'the system',
  'call.by.you': 'you',
  'call.error.conflict': 'A call is already going on.',
  'call.error.unavailable': 'Calls are not available right now.',
  'call.error.not_found': 'That call is over.',
  'call.error.invalid': 'The call could not be set up.',
  'call.error.no_reply': 'The call could not be started. Please try again.',
  'call.error.media_denied': 'Allow this page to use your microphone to call.',
  'call.error.media_denied_video': 'Allow this page to use your microphone and camera for a video call.',
  'call.error.media': 'The microphone or camera could not be used ({detail}).',
  // a phone call's recording (agent/recording.js); {d} is its length, e.g. 1:02
  'recording.completed': 'Call recorded ({d})',
  'recording.completed_plain': 'Call recorded',
  'recording.absent': 'Nothing was recorded on this call',
  'recording.failed': 'The call recording failed',
  'recording.other': 'Call recording: {status}',
  'recording.play': 'Play recording',
  'recording.unavailable': 'The recording cannot be played right now',
  // the phone softphone (agent/softphone.js); Mute / Hang up are `call.mute`, `call.hangup`
  'softphone.status.registering': 'Phone connecting…',
  'softphone.status.ready': 'Phone ready',
  'softphone.status.error': 'Phone unavailable',
  'softphone.title': 'Phone call · {name}',
  'softphone.title_out': 'Calling {phone} · {name}',
  'softphone.state.connecting': 'Connecting…',
  'softphone.state.connected': 'Connected',
  'softphone.state.ended': 'Call ended',
  'softphone.closed': 'Call ended — the conversation closed',
  'softphone.failed': 'The call failed: {detail}',
  'softphone.busy': 'Phone call from {name} not connected: you are on another phone call.',
  // the agent's own phone (agent/agentphone.js)
  'agentphone.ringing': 'Your phone {phone} is ringing: {name}',
  'agentphone.failed': 'The call could not be sent to your phone: {message}',
  'agentphone.calling': 'Your phone {phone} is ringing; {to} is dialled when you answer',
  'agentphone.call_out_failed': 'Could not call {to} through your phone: {message}',
  // a colleague's call to the softphone (agent/softphone.js)
  'softphone.incoming_consult': 'Incoming call: consult from {agent}',
  'softphone.incoming': 'Incoming call from {from}',
  'softphone.incoming_missed': '{from} called while you were on a phone call; the call was declined.',
  'softphone.accept': 'Accept',
  'softphone.decline': 'Decline',
  'softphone.title_consult': 'Consult · {agent}',
  // the live phone call's controls (agent/callcontrols.js) and the consult dialog
  'phonectl.label': 'Phone call controls',
  'phonectl.title_phone': 'On your phone · {name}',
  'phonectl.hold': 'Hold',
  'phonectl.resume': 'Resume',
  'phonectl.on_hold': 'On hold',
  'phonectl.consulting': 'On hold · consulting {agent}',
  'phonectl.consult': 'Consult…',
  'phonectl.complete': 'Complete transfer',
  'phonectl.complete_title': 'Hand the call over to {agent}',
  'phonectl.cancel': 'Cancel consult',
  'phonectl.hold_failed': 'Could not put the caller on hold: {message}',
  'phonectl.resume_failed': 'Could not take the caller off hold: {message}',
  'phonectl.consult_failed': 'Could not consult {agent}: {message}',
  'phonectl.complete_failed': 'Could not hand the call over to {agent}: {message}',
  'phonectl.cancel_failed': 'Could not cancel the consult with {agent}: {message}',
  'consult.title': 'Consult another agent',
  'consult.hint': 'The caller hears hold music while you talk to the agent. Then hand the call over, or cancel and go back to the caller.',
  'consult.agent': 'Agent ID',
  'consult.confirm': 'Call agent',
  'delivery.sent': 'Sent',
  'delivery.delivered': 'Delivered',
  'delivery.read': 'Read',
  'delivery.failed': 'Failed',
  'delivery.suppressed': 'Not sent (opted out)',
  'delivery.unknown': 'Unknown: may not have arrived (not resent)',
  'attachment.image': 'Image',
  'attachment.sticker': 'Sticker',
  'attachment.file': 'File',
  'attachment.audio': 'Audio',
  'attachment.video': 'Video',
  'attachment.location': 'Location',
  'msg.subject': 'Subject: {subject}',
  'msg.attachments': 'Attachments',
  'file.attach': 'Attach files',
  'file.attached': 'Files attached to this reply',
  'file.download': 'Download {name}',
  'file.unavailable': 'This file cannot be shown (removed, or not yours to see).',
  'file.uploading': 'Uploading…',
  'file.refused': 'Refused: {reason}',
  'file.remove': 'Remove {name}',
  'file.not_ready': 'Wait until every file is uploaded, or remove the refused ones.',
  'composer.reply_via': 'Reply via',
  'composer.reply_via_title': 'This reply goes out on {channel}',
  'composer.opted_out': '(opted out)',
  'composer.private': '{channel} (private)',
  'newconv.open': 'Write first…',
  'newconv.channel': 'Channel',
  'newconv.address': 'Phone number, email or id',
  'newconv.text': 'Message',
  'newconv.send': 'Send and open',
  'newconv.missing': 'Enter the address and the message.',
  'newconv.no_customer': 'No customer you serve has this {channel} address.',
  'newconv.started': 'Sent on {channel}: the conversation is offered to you.',
  'moderation.hide': 'Hide',
  'moderation.unhide': 'Show again',
  'moderation.delete': 'Delete',
  'moderation.hidden': 'Hidden from the public',
  'moderation.deleted': 'Deleted',
  'moderation.confirm_delete': 'Delete this post at the provider? This cannot be undone.',
  'event.post_moderated.hide': '{agent} hid the post on {channel}',
  'event.post_moderated.unhide': '{agent} showed the post again on {channel}',
  'event.post_moderated.delete': '{agent} deleted the post on {channel}',
  'window.open': '{channel} reply window: {left} left',
  'window.tagged': 'Past 24 hours: replies go out as a human agent\'s for {left} more',
  'window.closed': 'The {channel} reply window has closed: the customer has to write first',
  'window.closed_templates': 'The {channel} reply window has closed: send an approved template',
  'template.label': 'Template',
  'template.param': 'Parameter {n}',
  'template.send': 'Send template',
  'customer.opted_out': 'opted out',
  'customer.dial': 'Call',
  'customer.dial_label': 'Call {phone} with the softphone',
  'customer.dial_label_phone': 'Call {phone} through your phone {mine}',
  'error.invalid_detail': 'Not accepted: {detail}',
  'event.unknown': '{type}',
  'event.system_agent': 'system',
  'event.queue_label': 'queue {queue}',
  'event.agent_in_queue': '{agent} (queue {queue})',
  'outcome.accepted': 'accepted',
  'outcome.rejected': 'rejected',
  'outcome.timed_out': 'timed out',
  'outcome.rescinded': 'withdrawn',

  // customer web chat
  'chat.title': 'Chat with us',
  'chat.subtitle': 'We usually reply within a few minutes',
  'chat.status.connecting': 'Connecting…',
  'chat.status.reconnecting': 'Connection lost — reconnecting…',
  'chat.status.ready': 'Send us a message and an agent will be with you shortly.',
  'chat.status.queued_position': 'Waiting in queue — you are number {n}',
  'chat.status.queued': 'Waiting for an agent…',
  'chat.status.assigned': 'Connected with {agent}',
  'chat.status.ended': 'Conversation ended',
  'chat.identify.toggle': 'Introduce yourself (optional)',
  'chat.identify.name': 'Name',
  'chat.identify.email': 'Email',
  'chat.identify.save': 'Save',
  'chat.identify.saved': 'Thanks, {name}! Our agents will see your details.',
  'chat.identify.saved_anon': 'Thanks! Our agents will see your details.',
  'chat.placeholder': 'Type your message…',
  'chat.input_label': 'Your message',
  'chat.send': 'Send',
  'chat.end': 'End chat',
  'chat.agent': 'Agent',
  'chat.you': 'You',
  'chat.agent_typing': '{agent} is typing…',
  'chat.joined': '{agent} joined the chat',
  'chat.ended_line': 'The conversation has ended. Send a message any time to start a new one.',
  'chat.left_line': 'You ended the chat.',
  'chat.empty': 'Hi! How can we help you today?',
  'chat.messages_label': 'Conversation',
  'chat.token_problem': 'We could not reconnect to your previous chat.',
  'chat.new_chat': 'Start a new chat',
  'chat.video': 'Video',
  'chat.video_label': 'Continue this conversation on video',
  'chat.video_requesting': 'Preparing your video call…',
  'chat.video_ready': 'Your video call is ready.',
  'chat.video_join': 'Join video',
  // agent assist panel (agent/assist.js)
  'assist.insert': 'Insert',
  'assist.loading': 'Loading…',
  'assist.network_error': 'The server could not be reached.',
  'assist.crm.title': 'CRM',
  'assist.crm.status.ok': 'Up to date',
  'assist.crm.status.stale': 'May be out of date',
  'assist.crm.status.unavailable': 'CRM unavailable',
  'assist.crm.status.disabled': 'No CRM connected',
  'assist.crm.fetched': 'as of {at}',
  'assist.crm.disabled_hint': 'Configure [crm] url to show CRM data here.',
  'assist.crm.orders': 'Recent orders',
  'assist.canned.title': 'Canned responses',
  'assist.canned.filter': 'Filter, or type / in the reply box',
  'assist.canned.none': 'No canned responses.',
  'assist.canned.render_failed': 'Could not fill in this response: {why}',
  'assist.kb.title': 'Knowledge base',
  'assist.kb.unavailable': 'Knowledge base unavailable.',
  'assist.kb.suggestions': 'Suggested articles',
  'assist.kb.no_suggestions': 'No suggestions for this conversation.',
  'assist.kb.no_results': 'No articles found.',
  'assist.kb.search': 'Search articles',
  'assist.kb.search_button': 'Search',
  'assist.kb.confident': 'Good match',
  'assist.kb.edit': 'Edit',
  'assist.kb.new': 'New article',
  'assist.kb.field_title': 'Title',
  'assist.kb.field_body': 'Text',
  'assist.kb.field_tags': 'Tags (comma separated)',
  'assist.kb.field_language': 'Language',
  'assist.kb.save': 'Save article',
  'assist.kb.saved': 'Article saved.',
  'assist.kb.proposed': 'Sent to a supervisor: customers see it once it is published.',
  'assist.kb.conflict': 'Someone changed this article meanwhile. Reopen it to see their version.',
  'survey.comment': 'Anything to add? (optional)',
  'survey.score_label': 'Rate {n} of 5',
  'survey.scores_label': 'Your rating',
  'survey.thanks': 'Thank you for your feedback!',
  'event.survey_sent': 'Satisfaction survey sent ({channel})',
  'event.survey_answered': 'Survey answered: {score}/{max} ({channel})',
  'event.notification_sent': 'Notification {type} sent on {channel}: {text}',
  'chat.bot_name': 'Assistant',
  'chat.handoff': 'Talk to a person',
  'chat.handoff_text': "I'd like to talk to a person",
  'bot.reply_article': 'Bot answered with “{title}”',
  'bot.reply_unsure': 'Bot was not sure',
  'bot.reply_handoff': 'Bot told the customer a person is coming',
  'bot.reply_ivr': 'Menu sent to the customer',
  'bot.reply_after_hours': 'Told the customer the queue is closed',
  'bot.offered': 'offered “{title}”',
  'bot.handoff': 'Bot handed off ({reason}) after {n} question(s):',
  'bot.reason.requested': 'customer asked for a person',
  'bot.reason.button': 'customer pressed “Talk to a person”',
  'bot.reason.unanswered': 'no confident answer',
  'bot.reason.turn_limit': 'turn limit',
  'callback.task_title': 'Callback requested',
  'callback.call': 'Call',
  'callback.dial': 'Call with softphone',
  'callback.dial_phone': 'Call from your phone',
  'callback.note': 'Note: {note}',
  'callback.ivr_path': 'IVR path: {path}',
  'callback.requested': 'Requested {at} · attempts so far: {n}',
  'callback.outcome.reached': 'Reached',
  'callback.outcome.no_answer': 'No answer',
  'callback.outcome.busy': 'Busy',
  'callback.next.connected': 'connected',
  'callback.next.retry': 'will retry',
  'callback.next.failed': 'gave up',
  'callback.source.voice_ivr': 'phone menu',
  'callback.source.visual_ivr': 'web menu',
  'callback.source.chat': 'web chat',
  'callback.source.rest': 'staff',
  'callback.event_requested': 'Callback requested to {phone} (via {source})',
  'callback.event_attempt': 'Callback attempt {n}: {outcome} — {next}',
  'ivr.title': 'How can we help?',
  'ivr.back': 'Back',
  'ivr.home': 'Start over',
  'ivr.skip': 'Just chat',
  'ivr.callback_title': 'We will call you back',
  'ivr.phone': 'Phone number (with country code, e.g. +81 90 1234 5678)',
  'ivr.note': 'Note (optional)',
  'ivr.callback_submit': 'Call me back',
  'ivr.callback_done': 'Thanks — we will call {phone}. You keep your place in line.',
  'ivr.callback_button': 'Call me back instead of waiting',
  'ivr.article_missing': 'This article is not available right now.',
  'ivr.start_chat': 'Type your message below to start the chat.',
  'help.suggested': 'Suggested articles',
  'help.open': 'Open in the help center',
  'help.question': 'Did this answer your question?',
  'help.yes': 'Yes',
  'help.no': 'No',
  'help.thanks': 'Glad it helped. You can still write to us below.',
  'help.loading': 'Loading the article…',
  'help.missing': 'This article is not available right now.',
  // conversation search (agent/search.js)
  'search.open': 'Search',
  'search.open_title': 'Search past conversations',
  'search.title': 'Search conversations',
  'search.close': 'Close search',
  'search.q_label': 'Words to find',
  'search.q_placeholder': 'Words in the conversation (all must match)',
  'search.submit': 'Search',
  'search.channel': 'Channel',
  'search.channel_any': 'Any channel',
  'search.from': 'From',
  'search.to': 'To',
  'search.disposition': 'Disposition',
  'search.disposition_placeholder': 'Wrap-up code',
  'search.searching': 'Searching…',
  'search.total': '{n} conversations',
  'search.total_one': '1 conversation',
  'search.pending': '{n} recently changed conversation(s) cannot be found yet.',
  'search.empty': 'No conversations found.',
  'search.more': 'More',
  'search.narrow': 'Narrow the search to see the rest.',
  'search.back': 'Back to results',
  'search.read_only': 'Read-only',
  'search.conversation_empty': 'Nothing to show in this conversation.',
  'search.disposition_value': 'Disposition: {disposition}',
  'search.queue': 'Queue {queue}',
  'search.agents': 'Agents: {agents}',
  'search.csat': 'CSAT {score}',
  'search.unavailable': 'Conversation search is not available.',
  'search.failed': 'The search failed (HTTP {status}).',
  'search.unreachable': 'The server cannot be reached. Check your connection and try again.',
};

/** @type {Record<string, string>} */
const ja = {
  'lang.toggle': 'English',
  'lang.toggle_label': '言語を英語に切り替え (Switch to English)',
  'conn.connecting': '接続中…',
  'conn.connected': '接続済み',
  'conn.reconnecting': '再接続中…',
  'conn.reconnecting_in': '{s}秒後に再接続します…',
  'conn.offline': 'オフライン',
  'common.cancel': 'キャンセル',
  'common.close': '閉じる',
  'common.dismiss': '閉じる',
  'common.none': 'なし',
  'common.unknown': '不明',
  'customer.visitor': 'ゲスト',

  'duration.s': '{s}秒',
  'duration.ms': '{m}分{s}秒',
  'duration.hm': '{h}時間{m}分',
  'day.today': '今日',
  'day.yesterday': '昨日',

  'channel.chat': 'チャット',
  'channel.sms': 'SMS',
  'channel.email': 'メール',
  'channel.voice': '音声',
  'channel.line': 'LINE',
  'channel.messenger': 'Messenger',
  'channel.whatsapp': 'WhatsApp',
  'channel.instagram': 'Instagram',
  'channel.x': 'X',
  'channel.facebook_comments': 'Facebookコメント',
  'channel.x_mentions': 'Xのメンション',
  'channel.video': 'ビデオ',

  'error.title': 'エラー',
  'error.bad_json': 'サーバーがこの画面からのメッセージを読み取れませんでした。',
  'error.unknown_type': 'サーバーがこの画面からのメッセージを認識できませんでした。',
  'error.too_large': 'メッセージが大きすぎます。',
  'error.invalid': '入力内容が受け付けられませんでした（空欄、または長すぎる可能性があります）。',
  'error.not_found': 'その会話または顧客は存在しません。',
  'error.not_yours': 'この会話はすでにあなたの担当ではありません。',
  'error.offer_not_found': 'このオファーはすでに無効です。',
  'error.queue_full': '現在キューが満杯です。しばらくしてからもう一度お試しください。',
  'error.unavailable': '一時的にサービスを利用できません。再試行しています…',
  'error.unauthorized': 'この操作を行う権限がありません。',
  'error.rate_limited': 'メッセージの送信が多すぎます。少し間をおいてください。',
  'error.internal': 'サーバーで問題が発生しました。',
  'error.not_connected': '接続されていません。再接続後にもう一度お試しください。',

  'app.title': 'Switchboard',
  'app.subtitle': 'エージェントデスクトップ',
  'login.title': 'サインイン',
  'login.lead': 'エージェントIDでサインインして、対応を開始しましょう。',
  'login.agent_id': 'エージェントID',
  'login.password': 'パスワード',
  'login.submit': 'サインイン',
  'login.signing_in': 'サインイン中…',
  'login.bad_credentials': 'エージェントIDまたはパスワードが正しくありません。',
  'login.failed': 'サインインに失敗しました（HTTP {status}）。',
  'login.unreachable': 'サーバーに接続できません。ネットワークを確認して、もう一度お試しください。',
  'login.expired': 'セッションの有効期限が切れました。もう一度サインインしてください。',
  'login.stuck': '接続できない状態が続いています。セッションの有効期限が切れている可能性があります。',
  'login.sign_in_again': '再度サインイン',
  'login.sso.refused': 'シングルサインオンに失敗しました。もう一度お試しいただくか、管理者にお問い合わせください。',
  'login.sso.no_role': 'IDプロバイダーのアカウントに、ここへのアクセスを許可するグループがありません。',
  'login.sso.unknown_agent': 'サインインはできましたが、ここにあなたのエージェントアカウントがありません。',
  'login.sso.disabled': 'エージェントアカウントが無効になっています。',
  'login.sso.unavailable': 'IDプロバイダーに接続できません。しばらくしてからお試しください。',
  'login.sso.denied': 'IDプロバイダーでサインインが完了しませんでした。',
  'header.logout': 'サインアウト',
  'header.connection': '接続状態',

  'status.label': 'ステータス',
  'status.available': '対応可能',
  'status.away': '離席中',
  'status.offline': 'オフライン',
  'status.busy': '対応中',
  'status.reason': '離席理由',
  'reason.break': '休憩',
  'reason.lunch': '昼休み',
  'reason.meeting': '会議',
  'reason.training': '研修',
  'reason.other': 'その他',
  'reason.login': 'サインイン直後',
  'reason.missed': 'オファー未応答',
  'reason.logout': 'サインアウト',

  'offers.title': '着信',
  'offer.waited': '待ち時間 {d}',
  'offer.queue': 'キュー: {q}',
  'offer.priority': '優先度 {p}',
  'offer.expires_in': '残り{s}秒',
  'offer.expired': '期限切れ',
  'offer.accept': '受諾',
  'offer.reject': '拒否',
  'offer.accepting': '受諾中…',
  'offer.no_preview': 'メッセージはまだありません',
  'offer.aria': '{name}さんから新しい{channel}の会話',
  'notice.offer_timed_out': '{name}さんからのオファーは時間切れになりました。',
  'notice.offer_rescinded': '{name}さんからのオファーは取り消されました（お客様の退出、または別のキューへの振り分け）。',
  'notice.offer_rejected': '{name}さんからのオファーを拒否しました。',
  'notice.offer_gone': 'このオファーはすでに無効です。',
  'notice.conv_resolved': '{name}さんとの会話を解決しました。',
  'notice.conv_transferred': '{name}さんとの会話を転送しました。',
  'notice.conv_abandoned': '{name}さんが会話から退出しました。',
  'notice.conv_closed': '{name}さんとの会話を終了しました。',
  'notice.conv_parked': '{name}さんとの会話をパークしました。お客様から返信があるまで枠は空いています。',
  'notice.parked_returned': '{name}さんから返信がありました。パークした会話があなたに戻ります。',
  'notice.resumed': '再接続しました。会話はそのまま復元されています。',
  'notice.session_new': '新しいセッションで再接続しました。状態を再読み込みしました。',
  'notice.status_missed': 'オファーに応答がなかったため、離席中に切り替わりました。',

  'convs.title': '保留中の会話',
  'convs.empty': '会話はまだありません。ステータスを「対応可能」にすると会話が届きます。',
  'convs.unread': '未読 {n} 件',
  'conv.none_selected': '会話を選択してください',
  'conv.none_selected_hint': '受諾した会話は左側の一覧に表示されます。',
  'conv.state.queued': '待機中',
  'conv.state.assigned': '対応中',
  'conv.state.wrap_up': '後処理',
  'conv.state.parked': 'パーク中',
  'conv.state.resolved': '解決済み',
  'conv.state.abandoned': 'お客様が退出',
  'conv.load_older': '以前のメッセージを読み込む',
  'conv.loading': '読み込み中…',
  'conv.history_start': '履歴の先頭です',
  'conv.typing': '{name}さんが入力中…',
  'conv.customer_left': 'お客様が退出しました。対応が終わったら会話を解決してください。',
  'conv.timeline': '{name}さんとのやり取り',
  'conv.show_info': '顧客情報',

  'composer.label': '返信',
  'composer.placeholder': '{name}さんへの返信…（Enterで送信、Shift+Enterで改行）',
  'composer.note_placeholder': '社内メモ（お客様には表示されません）',
  'composer.send': '送信',
  'composer.add_note': 'メモを追加',
  'composer.note': 'メモ',
  'composer.note_hint': '社内メモモード',
  'msg.sending': '送信中…',
  'msg.failed': '未送信（{code}）',
  'msg.retry': '再送',
  'msg.note': '社内メモ',
  'msg.agent': 'エージェント {id}',
  'msg.you': 'あなた',
  'msg.you_lower': 'あなた',

  'actions.transfer': '転送',
  'actions.wrap_up': '後処理',
  'actions.park': 'パーク',
  'parked.title': 'パーク中',
  'parked.customer': 'お客様',
  'parked.auto': '自動',
  'parked.take_back': '再開',
  'actions.resolve': '解決',
  'transfer.title': '会話を転送',
  'transfer.to_queue': 'キューへ',
  'transfer.to_agent': 'エージェントへ',
  'transfer.queue': 'キュー名',
  'transfer.agent': 'エージェントID',
  'transfer.agent_queue': 'キュー（任意）',
  'transfer.confirm': '転送する',
  'resolve.title': '会話を解決',
  'resolve.disposition': '対応結果',
  'resolve.notes': '詳細（任意）',
  'resolve.confirm': '解決する',
  'disp.resolved': '解決済み',
  'resolve.choose_code': 'ラップアップコードを選択…',
  'resolve.code_required': 'このキューではラップアップコードの選択が必須です。',
  'disp.follow_up': '要フォローアップ',
  'disp.no_answer': '応答なし',
  'disp.spam': 'スパム',

  'customer.title': '顧客情報',
  'customer.name': '名前',
  'customer.id': '顧客ID',
  'customer.priority': '優先度',
  'customer.identities': '連絡先',
  'customer.attributes': '属性',
  'customer.conversation': '会話',
  'customer.queue': 'キュー',
  'customer.channel': 'チャネル',
  'customer.since': '待機開始',

  'event.conversation_opened': '{channel}で会話を開始（{queue}）',
  'event.queued': '{queue}キューで待機',
  'event.offered': '{agent}にオファー',
  'event.offer_closed': '{agent}へのオファー: {outcome}',
  'event.assigned': '{agent}に割り当て',
  'event.transferred': '{from}から{to}へ転送',
  'event.overflowed': '{from}から{to}へオーバーフロー',
  'event.wrap_up': '{agent}が後処理を開始',
  'event.resolved': '{agent}が解決',
  'event.resolved_disp': '{agent}が解決（{disposition}）',
  'event.abandoned': 'お客様が退出（待ち時間 {d}）',
  'event.channel_switched': '{from}から{to}に切り替え',
  'event.identity_linked': '{channel}の連絡先（{address}）を紐付け',
  'event.identity_linked_because': '{channel}の連絡先（{address}）を紐付け: 同じお客様である根拠 — {reason}',
  'evidence.same_phone_number': '確認済みの同じ電話番号',
  'evidence.login_token': '企業サイトへのログイン',
  'evidence.messenger_account_linking': 'Messengerのアカウント連携',
  'evidence.agent': '担当者による紐付け',
  'evidence.same_x_account': '同じXアカウント',
  'evidence.private_reply': 'コメントへの個別返信に応答',
  'event.opted_out': '{channel}の配信停止',
  'event.opted_in': '{channel}の配信を再開',
  'event.conversation_reopened': '会話を再開（{channel}）· {queue}',
  'event.call_detail': '{status}: {detail}',
  'event.video_invited': 'ビデオ通話の招待:',
  'event.customers_merged': '顧客レコード {id} をこの顧客に統合（{identities}）',
  'event.customers_unmerged': '統合を取り消し: {identities} を顧客レコード {id} に戻しました',
  'event.by_agent': '{text}（{agent}）',
  'event.message_status': '{channel}の配信状況: {status}',
  'call.ringing': '着信中',
  'call.in_ivr': '音声ガイダンス中',
  'call.queued': '通話がキューで待機中',
  'call.answered': '通話に応答',
  'call.ended': '通話終了',
  'call.callback_requested': 'コールバックの依頼',
  'call.other': '通話: {status}',
  'call.audio': '音声通話',
  'call.video': 'ビデオ通話',
  'call.start_audio': '音声通話をかける',
  'call.start_video': 'ビデオ通話をかける',
  'call.incoming_audio': '{name}から音声通話の着信',
  'call.incoming_video': '{name}からビデオ通話の着信',
  'call.answer': '応答',
  'call.decline': '拒否',
  'call.mute': 'ミュート',
  'call.unmute': 'ミュート解除',
  'call.camera_off': 'カメラをオフ',
  'call.camera_on': 'カメラをオン',
  'call.hangup': '通話を終了',
  'call.state.ringing': '呼び出し中…',
  'call.state.connecting': '接続中…',
  'call.state.connected': '通話中',
  'call.remote_label': '{name}との通話',
  'call.local_label': 'あなたのカメラ',
  'call.started': '{media}を開始しました',
  'call.started_by': '{who}が{media}を開始',
  'call.ended_d': '通話終了 · {d}',
  'call.ended_reason': '通話終了 — {reason}',
  'call.ended_reason_d': '通話終了 — {reason} · {d}',
  'call.reason.hangup': '{by}が終了',
  'call.reason.declined': '{by}が拒否',
  'call.reason.busy': '話し中',
  'call.reason.no_answer': '応答なし',
  'call.reason.disconnected': '{by}の接続が切断',
  'call.reason.closed': '会話が終了',
  'call.reason.failed': '接続に失敗',
  'call.by.customer': 'お客様',
  'call.by.agent': '担当者',
  'call.by.system': 'システム',
  'call.by.you': 'あなた',
  'call.error.conflict': 'すでに通話中です。',
  'call.error.unavailable': '現在、通話はご利用いただけません。',
  'call.error.not_found': 'その通話は終了しています。',
  'call.error.invalid': '通話を開始できませんでした。',
  'call.error.no_reply': '通話を開始できませんでした。もう一度お試しください。',
  'call.error.media_denied': '通話するには、このページにマイクの使用を許可してください。',
  'call.error.media_denied_video': 'ビデオ通話をするには、このページにマイクとカメラの使用を許可してください。',
  'call.error.media': 'マイクまたはカメラを使用できません（{detail}）。',
  'recording.completed': '通話を録音しました（{d}）',
  'recording.completed_plain': '通話を録音しました',
  'recording.absent': 'この通話は録音されませんでした',
  'recording.failed': '通話の録音に失敗しました',
  'recording.other': '通話の録音: {status}',
  'recording.play': '録音を再生',
  'recording.unavailable': '現在、この録音は再生できません',
  'softphone.status.registering': '電話: 接続中…',
  'softphone.status.ready': '電話: 待機中',
  'softphone.status.error': '電話: 利用できません',
  'softphone.title': '電話 · {name}',
  'softphone.title_out': '{phone} に発信 · {name}',
  'softphone.state.connecting': '接続中…',
  'softphone.state.connected': '通話中',
  'softphone.state.ended': '通話終了',
  'softphone.closed': '通話終了 — 会話が閉じられました',
  'softphone.failed': '通話に失敗しました: {detail}',
  'softphone.busy': '別の電話に応対中のため、{name}からの電話はつながれませんでした。',
  'agentphone.ringing': 'お使いの電話 {phone} を呼び出しています（{name}）',
  'agentphone.failed': 'お使いの電話に通話をつなげませんでした: {message}',
  'agentphone.calling': 'お使いの電話 {phone} を呼び出しています。応答すると {to} に発信します',
  'agentphone.call_out_failed': 'お使いの電話から {to} に発信できませんでした: {message}',
  'softphone.incoming_consult': '着信: {agent}からの相談',
  'softphone.incoming': '{from}からの着信',
  'softphone.incoming_missed': '通話中に{from}から着信があったため、お断りしました。',
  'softphone.accept': '応答',
  'softphone.decline': '拒否',
  'softphone.title_consult': '相談 · {agent}',
  'phonectl.label': '通話の操作',
  'phonectl.title_phone': 'お使いの電話で通話中 · {name}',
  'phonectl.hold': '保留',
  'phonectl.resume': '保留解除',
  'phonectl.on_hold': '保留中',
  'phonectl.consulting': '保留中 · {agent}に相談中',
  'phonectl.consult': '相談…',
  'phonectl.complete': '転送を完了',
  'phonectl.complete_title': '通話を{agent}に引き継ぐ',
  'phonectl.cancel': '相談をやめる',
  'phonectl.hold_failed': '保留にできませんでした: {message}',
  'phonectl.resume_failed': '保留を解除できませんでした: {message}',
  'phonectl.consult_failed': '{agent}に相談できませんでした: {message}',
  'phonectl.complete_failed': '{agent}に通話を引き継げませんでした: {message}',
  'phonectl.cancel_failed': '{agent}との相談を終了できませんでした: {message}',
  'consult.title': '他のエージェントに相談',
  'consult.hint': '相談中、お客様には保留音が流れます。そのあと通話を引き継ぐか、相談をやめてお客様との通話に戻ります。',
  'consult.agent': 'エージェントID',
  'consult.confirm': '呼び出す',
  'delivery.sent': '送信済み',
  'delivery.delivered': '配信済み',
  'delivery.read': '既読',
  'delivery.failed': '送信失敗',
  'delivery.suppressed': '未送信（配信停止中）',
  'delivery.unknown': '送信結果不明（未着の可能性・再送なし）',
  'attachment.image': '画像',
  'attachment.sticker': 'スタンプ',
  'attachment.file': 'ファイル',
  'attachment.audio': '音声',
  'attachment.video': '動画',
  'attachment.location': '位置情報',
  'msg.subject': '件名: {subject}',
  'msg.attachments': '添付ファイル',
  'file.attach': 'ファイルを添付',
  'file.attached': 'この返信に添付したファイル',
  'file.download': '{name} をダウンロード',
  'file.unavailable': 'このファイルは表示できません（削除済み、または閲覧権限がありません）。',
  'file.uploading': 'アップロード中…',
  'file.refused': '受け付けられませんでした: {reason}',
  'file.remove': '{name} を外す',
  'file.not_ready': 'アップロードが終わるまでお待ちください。受け付けられなかったファイルは外してください。',
  'composer.reply_via': '返信チャネル',
  'composer.reply_via_title': 'この返信は{channel}で送信されます',
  'composer.opted_out': '（配信停止中）',
  'composer.private': '{channel}（非公開）',
  'newconv.open': '新規メッセージ…',
  'newconv.channel': 'チャネル',
  'newconv.address': '電話番号・メール・ID',
  'newconv.text': 'メッセージ',
  'newconv.send': '送信して開く',
  'newconv.missing': '宛先とメッセージを入力してください。',
  'newconv.no_customer': 'この{channel}の宛先を持つ担当顧客が見つかりません。',
  'newconv.started': '{channel}で送信しました。会話があなたに割り当てられます。',
  'moderation.hide': '非表示',
  'moderation.unhide': '再表示',
  'moderation.delete': '削除',
  'moderation.hidden': '公開から非表示',
  'moderation.deleted': '削除済み',
  'moderation.confirm_delete': 'この投稿を削除しますか？元に戻せません。',
  'event.post_moderated.hide': '{agent}が{channel}の投稿を非表示にしました',
  'event.post_moderated.unhide': '{agent}が{channel}の投稿を再表示しました',
  'event.post_moderated.delete': '{agent}が{channel}の投稿を削除しました',
  'window.open': '{channel}の返信期限: 残り{left}',
  'window.tagged': '24時間を過ぎました: あと{left}は担当者の返信として送信できます',
  'window.closed': '{channel}の返信期限を過ぎました: お客様からのメッセージを待ってください',
  'window.closed_templates': '{channel}の返信期限を過ぎました: 承認済みテンプレートを送信してください',
  'template.label': 'テンプレート',
  'template.param': 'パラメーター{n}',
  'template.send': 'テンプレートを送信',
  'customer.opted_out': '配信停止中',
  'customer.dial': '発信',
  'customer.dial_label': 'ソフトフォンで {phone} に発信',
  'customer.dial_label_phone': 'お使いの電話 {mine} で {phone} に発信',
  'error.invalid_detail': '受け付けられませんでした: {detail}',
  'event.unknown': '{type}',
  'event.system_agent': 'システム',
  'event.queue_label': '{queue}キュー',
  'event.agent_in_queue': '{agent}（{queue}キュー）',
  'outcome.accepted': '受諾',
  'outcome.rejected': '拒否',
  'outcome.timed_out': '時間切れ',
  'outcome.rescinded': '取り消し',

  'chat.title': 'お問い合わせ',
  'chat.subtitle': '通常、数分以内にお返事します',
  'chat.status.connecting': '接続中…',
  'chat.status.reconnecting': '接続が切れました。再接続しています…',
  'chat.status.ready': 'メッセージを送信すると、担当者がまもなく対応いたします。',
  'chat.status.queued_position': '順番をお待ちください（現在 {n} 番目）',
  'chat.status.queued': '担当者におつなぎしています…',
  'chat.status.assigned': '{agent}が対応しています',
  'chat.status.ended': '会話は終了しました',
  'chat.identify.toggle': 'お名前・メールアドレス（任意）',
  'chat.identify.name': 'お名前',
  'chat.identify.email': 'メールアドレス',
  'chat.identify.save': '保存',
  'chat.identify.saved': '{name}様、ありがとうございます。担当者に表示されます。',
  'chat.identify.saved_anon': 'ありがとうございます。担当者に表示されます。',
  'chat.placeholder': 'メッセージを入力…',
  'chat.input_label': 'メッセージ',
  'chat.send': '送信',
  'chat.end': 'チャットを終了',
  'chat.agent': '担当者',
  'chat.you': 'あなた',
  'chat.agent_typing': '{agent}が入力中…',
  'chat.joined': '{agent}が会話に参加しました',
  'chat.ended_line': '会話は終了しました。メッセージを送信すると、新しいお問い合わせを始められます。',
  'chat.left_line': 'チャットを終了しました。',
  'chat.empty': 'こんにちは！どのようなご用件でしょうか。',
  'chat.messages_label': '会話',
  'chat.token_problem': '以前のチャットに再接続できませんでした。',
  'chat.new_chat': '新しいチャットを開始',
  'chat.video': 'ビデオ',
  'chat.video_label': 'この会話をビデオ通話で続ける',
  'chat.video_requesting': 'ビデオ通話を準備しています…',
  'chat.video_ready': 'ビデオ通話の準備ができました。',
  'chat.video_join': 'ビデオ通話に参加',
  // agent assist panel (agent/assist.js)
  'assist.insert': '挿入',
  'assist.loading': '読み込み中…',
  'assist.network_error': 'サーバーに接続できませんでした。',
  'assist.crm.title': 'CRM',
  'assist.crm.status.ok': '最新',
  'assist.crm.status.stale': '古い可能性があります',
  'assist.crm.status.unavailable': 'CRMに接続できません',
  'assist.crm.status.disabled': 'CRM未接続',
  'assist.crm.fetched': '{at} 時点',
  'assist.crm.disabled_hint': '[crm] の url を設定すると、ここにCRMの情報が表示されます。',
  'assist.crm.orders': '最近の注文',
  'assist.canned.title': '定型文',
  'assist.canned.filter': '絞り込み（返信欄で / も使えます）',
  'assist.canned.none': '定型文はありません。',
  'assist.canned.render_failed': 'この定型文を作成できませんでした: {why}',
  'assist.kb.title': 'ナレッジベース',
  'assist.kb.unavailable': 'ナレッジベースを利用できません。',
  'assist.kb.suggestions': 'おすすめの記事',
  'assist.kb.no_suggestions': 'この会話へのおすすめはありません。',
  'assist.kb.no_results': '記事が見つかりません。',
  'assist.kb.search': '記事を検索',
  'assist.kb.search_button': '検索',
  'assist.kb.confident': '高い一致',
  'assist.kb.edit': '編集',
  'assist.kb.new': '新しい記事',
  'assist.kb.field_title': 'タイトル',
  'assist.kb.field_body': '本文',
  'assist.kb.field_tags': 'タグ（カンマ区切り）',
  'assist.kb.field_language': '言語',
  'assist.kb.save': '記事を保存',
  'assist.kb.saved': '記事を保存しました。',
  'assist.kb.proposed': 'スーパーバイザーに送りました。公開されるとお客さまに表示されます。',
  'assist.kb.conflict': 'この記事は他の人が更新しました。開き直して最新の内容を確認してください。',
  'survey.comment': 'ご意見があればどうぞ（任意）',
  'survey.score_label': '5段階中 {n}',
  'survey.scores_label': '評価',
  'survey.thanks': 'ご回答ありがとうございました。',
  'event.survey_sent': '満足度アンケートを送信しました（{channel}）',
  'event.survey_answered': 'アンケート回答: {score}/{max}（{channel}）',
  'event.notification_sent': 'お知らせ {type} を{channel}で送信: {text}',
  'chat.bot_name': 'アシスタント',
  'chat.handoff': '担当者と話す',
  'chat.handoff_text': '担当者と話したいです',
  'bot.reply_article': 'ボットが「{title}」で回答',
  'bot.reply_unsure': 'ボットは回答を見つけられませんでした',
  'bot.reply_handoff': 'ボットが担当者への引き継ぎを案内',
  'bot.reply_ivr': 'お客様にメニューを送信',
  'bot.reply_after_hours': '受付時間外であることをお客様に案内',
  'bot.offered': '「{title}」を案内',
  'bot.handoff': 'ボットから引き継ぎ（{reason}）・質問 {n} 件:',
  'bot.reason.requested': 'お客様が担当者を希望',
  'bot.reason.button': 'お客様が「担当者と話す」を押下',
  'bot.reason.unanswered': '確かな回答なし',
  'bot.reason.turn_limit': 'ターン上限',
  'callback.task_title': '折り返し電話の依頼',
  'callback.call': '発信先',
  'callback.dial': 'ソフトフォンで発信',
  'callback.dial_phone': 'お使いの電話で発信',
  'callback.note': 'メモ: {note}',
  'callback.ivr_path': 'IVR の経路: {path}',
  'callback.requested': '依頼 {at}・これまでの発信: {n} 回',
  'callback.outcome.reached': 'つながった',
  'callback.outcome.no_answer': '応答なし',
  'callback.outcome.busy': '話し中',
  'callback.next.connected': '通話中',
  'callback.next.retry': '再発信予定',
  'callback.next.failed': '打ち切り',
  'callback.source.voice_ivr': '電話メニュー',
  'callback.source.visual_ivr': 'Web メニュー',
  'callback.source.chat': 'Web チャット',
  'callback.source.rest': 'スタッフ',
  'callback.event_requested': '{phone} への折り返しを依頼（{source}）',
  'callback.event_attempt': '折り返し {n} 回目: {outcome} — {next}',
  'ivr.title': 'ご用件をお選びください',
  'ivr.back': '戻る',
  'ivr.home': '最初から',
  'ivr.skip': 'チャットで相談する',
  'ivr.callback_title': '折り返しお電話します',
  'ivr.phone': '電話番号（国番号から。例: +81 90 1234 5678）',
  'ivr.note': 'メモ（任意）',
  'ivr.callback_submit': '折り返しを依頼',
  'ivr.callback_done': 'ありがとうございます。{phone} にお電話します。順番はそのままです。',
  'ivr.callback_button': '待たずに折り返し電話を依頼',
  'ivr.article_missing': 'この記事は現在ご覧いただけません。',
  'ivr.start_chat': '下の欄にメッセージを入力してチャットを始めてください。',
  'help.suggested': 'おすすめの記事',
  'help.open': 'ヘルプセンターで開く',
  'help.question': 'この記事で解決しましたか？',
  'help.yes': 'はい',
  'help.no': 'いいえ',
  'help.thanks': 'お役に立ててよかったです。このままメッセージを送ることもできます。',
  'help.loading': '記事を読み込んでいます…',
  'help.missing': 'この記事は現在ご覧いただけません。',
  // 会話検索 (agent/search.js)
  'search.open': '検索',
  'search.open_title': '過去の会話を検索',
  'search.title': '会話を検索',
  'search.close': '検索を閉じる',
  'search.q_label': '検索する語句',
  'search.q_placeholder': '会話に含まれる語句（すべて一致）',
  'search.submit': '検索',
  'search.channel': 'チャネル',
  'search.channel_any': 'すべてのチャネル',
  'search.from': '開始日',
  'search.to': '終了日',
  'search.disposition': '対応結果',
  'search.disposition_placeholder': '後処理コード',
  'search.searching': '検索中…',
  'search.total': '{n}件',
  'search.total_one': '1件',
  'search.pending': '最近更新された会話 {n} 件はまだ検索できません。',
  'search.empty': '該当する会話はありません。',
  'search.more': 'さらに表示',
  'search.narrow': '残りを表示するには条件を絞り込んでください。',
  'search.back': '検索結果に戻る',
  'search.read_only': '閲覧のみ',
  'search.conversation_empty': 'この会話には表示する内容がありません。',
  'search.disposition_value': '対応結果: {disposition}',
  'search.queue': 'キュー: {queue}',
  'search.agents': '担当: {agents}',
  'search.csat': '満足度 {score}',
  'search.unavailable': '会話検索は利用できません。',
  'search.failed': '検索できませんでした（HTTP {status}）。',
  'search.unreachable': 'サーバーに接続できません。接続を確認してもう一度お試しください。',
};

/** Language -> key -> string; a client adds its own strings (supervisor/strings.js). */
/** @type {Record<string, Record<string, string>>} */
export const dictionaries = { en, ja };

/**
 * @param {string | null | undefined} lang
 * @returns {'en' | 'ja' | null}
 */
function normalize(lang) {
  if (!lang) return null;
  const l = String(lang).toLowerCase();
  if (l.startsWith('ja')) return 'ja';
  if (l.startsWith('en')) return 'en';
  return null;
}

function readSaved() {
  try {
    return normalize(localStorage.getItem(STORAGE_KEY));
  } catch {
    return null;
  }
}

/** ?lang= wins, then the saved choice, then the browser's language, then English. */
export function detectLanguage() {
  const fromUrl = normalize(new URLSearchParams(location.search).get('lang'));
  if (fromUrl) return fromUrl;
  const saved = readSaved();
  if (saved) return saved;
  const nav = (navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]);
  for (const l of nav) {
    const n = normalize(l);
    if (n) return n;
  }
  return 'en';
}

let current = detectLanguage();
/** @type {Set<(lang: string) => void>} */
const listeners = new Set();
document.documentElement.lang = current;

export function getLanguage() {
  return current;
}

/**
 * Switches language, remembers it, drops a stale ?lang= from the URL, notifies listeners.
 * @param {string} lang
 */
export function setLanguage(lang) {
  const l = normalize(lang) || 'en';
  try {
    localStorage.setItem(STORAGE_KEY, l);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  const url = new URL(location.href);
  if (url.searchParams.has('lang')) {
    url.searchParams.set('lang', l);
    history.replaceState(history.state, '', url);
  }
  if (l === current) return;
  current = l;
  document.documentElement.lang = l;
  for (const fn of listeners) fn(l);
}

/**
 * Calls fn(lang) after every language change; returns an unsubscribe function.
 * @param {(lang: string) => void} fn
 */
export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * The string for key in the current language (English, then the key, as fallbacks).
 * @param {string} key
 * @param {Record<string, unknown>} [vars] `{name}` placeholders' values
 * @returns {string}
 */
export function t(key, vars) {
  const dict = dictionaries[current] || en;
  let s = dict[key];
  if (s === undefined) s = en[key];
  if (s === undefined) return key;
  if (vars) {
    s = s.replace(/\{(\w+)\}/g, (m, /** @type {string} */ name) => (name in vars && vars[name] != null ? String(vars[name]) : m));
  }
  return s;
}

/**
 * Whether the dictionary has the key (used to translate server codes with a fallback).
 * @param {string} key
 */
export function has(key) {
  return key in (dictionaries[current] || en) || key in en;
}

/**
 * Fills static markup: [data-i18n] gets textContent, [data-i18n-placeholder],
 * [data-i18n-aria-label] and [data-i18n-title] get those attributes.
 * @param {ParentNode} [root]
 */
export function applyTranslations(root = document) {
  /** @param {string} selector */
  const all = (selector) => /** @type {NodeListOf<HTMLInputElement>} */ (root.querySelectorAll(selector));
  for (const el of all('[data-i18n]')) el.textContent = t(el.dataset.i18n || '');
  for (const el of all('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder || '');
  for (const el of all('[data-i18n-aria-label]')) el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel || ''));
  for (const el of all('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle || '');
}

/**
 * Wires a <button> as the language toggle: it names the other language.
 * @param {HTMLElement} button
 */
export function bindLanguageToggle(button) {
  const paint = () => {
    button.textContent = t('lang.toggle');
    button.setAttribute('aria-label', t('lang.toggle_label'));
    button.lang = current === 'en' ? 'ja' : 'en';
  };
  paint();
  button.addEventListener('click', () => setLanguage(current === 'en' ? 'ja' : 'en'));
  onLanguageChange(paint);
}

/**
 * "1m 05s" / "1分5秒" style durations.
 * @param {number | null | undefined} ms
 */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return t('duration.hm', { h, m });
  if (m > 0) return t('duration.ms', { m, s: current === 'en' ? String(s).padStart(2, '0') : s });
  return t('duration.s', { s });
}

/**
 * "512 B", "12.5 KB", "3.1 MB" with the locale's digits.
 * @param {number} bytes
 */
export function formatSize(bytes) {
  const n = Math.max(0, Number(bytes) || 0);
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const num = new Intl.NumberFormat(locale(), { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
  return `${num} ${units[i]}`;
}

function locale() {
  return current === 'ja' ? 'ja-JP' : 'en-US';
}

/**
 * Clock time of a millisecond timestamp, e.g. "14:05".
 * @param {number} ms
 */
export function formatTime(ms) {
  return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit' }).format(new Date(ms));
}

/**
 * Full date and time, for tooltips.
 * @param {number} ms
 */
export function formatDateTime(ms) {
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(ms));
}

/**
 * "Today", "Yesterday" or a date, for day separators.
 * @param {number} ms
 */
export function formatDay(ms, now = Date.now()) {
  const d = new Date(ms);
  const start = (/** @type {Date} */ x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((start(new Date(now)) - start(d)) / 86400000);
  if (diff === 0) return t('day.today');
  if (diff === 1) return t('day.yesterday');
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(d);
}

/**
 * Localised channel name ("chat" -> "Chat" / "チャット").
 * @param {string | null | undefined} channel
 */
export function channelName(channel) {
  const key = `channel.${channel}`;
  return has(key) ? t(key) : String(channel || '');
}
