//! The notification scheduler: a task that every `notify.tick_ms` of real time reads
//! the `notify_due` records (in key order, which is due-time order) up to
//! `engine.clock.now()` and hands each to its customer's actor, which sends it and
//! deletes the due record in one commit. Scheduled sends are durable: after a restart
//! the first tick finds whatever came due meanwhile. Each tick first runs the response
//! sweeper (`customer::responses::tick`), which reads its own due records the same way.
//!
//! Each completed tick is counted in [`crate::notify::SchedulerStats`] (with the engine time it
//! looked at), so a test on a manual clock can wait for "a tick after the clock moved"
//! instead of sleeping.

use super::Notify;
use crate::actors::Engine;
use crate::notify::{SendOrder, DUE_KIND, RULE_KIND};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Starts the scheduler on the current runtime; it stops when the engine drains.
pub fn start(engine: &Engine) {
    let engine = engine.clone();
    let mut drain = engine.drain_signal();
    tokio::spawn(async move {
        let mut every =
            tokio::time::interval(Duration::from_millis(engine.settings.notify.tick_ms.max(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = drain.changed() => break,
            }
            if *drain.borrow() {
                break;
            }
            // In a cluster, the holder of `singleton/notifier` sends, and sweeps the
            // response-time due records.
            if engine.runs(cluster::shard::Singleton::Notifier) {
                // One instant for both, counted once both are done: a tick that looked
                // at time `t` has sent and swept everything due by `t`.
                let now = engine.now();
                tick(&engine, now).await;
                crate::actors::customer::responses::tick(&engine, now).await;
                let stats = &engine.notify_stats;
                stats.last_tick_at.store(now.0, Ordering::SeqCst);
                stats.ticks.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
}

/// One pass over the due records up to `now`.
pub async fn tick(engine: &Engine, now: crate::domain::Millis) {
    let limit = engine.settings.notify.due_per_tick;
    match engine.store.records(DUE_KIND, None, limit).await {
        Ok(due) => {
            for (key, bytes) in due {
                if crate::notify::due_of(&key).is_none_or(|at| at > now) {
                    break;
                }
                send_due(engine, key, &bytes).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "notify scheduler: reading due records failed"),
    }
}

async fn send_due(engine: &Engine, key: String, bytes: &[u8]) {
    let order: SendOrder = match serde_json::from_slice(bytes) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(key = %key, error = %e, "notify scheduler: unreadable due record, dropped");
            drop_due(engine, key).await;
            return;
        }
    };
    let rule = match engine.store.record(RULE_KIND, &order.event_type).await {
        Ok(Some(b)) => serde_json::from_slice::<super::Rule>(&b).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "notify scheduler: reading rule failed; retrying next tick");
            return;
        }
    };
    let Some(rule) = rule else {
        tracing::warn!(event_type = %order.event_type, "notify scheduler: the rule is gone; scheduled send dropped");
        drop_due(engine, key).await;
        return;
    };
    let customer = order.customer_id;
    let msg = Notify {
        order,
        rule,
        due_key: Some(key),
    };
    match engine.ask_customer(customer, msg).await {
        Ok(_) => {
            engine.notify_stats.sent.fetch_add(1, Ordering::SeqCst);
        }
        Err(e) => {
            tracing::warn!(customer = %customer, error = %e.message, "notify scheduler: send failed; retrying next tick")
        }
    }
}

async fn drop_due(engine: &Engine, key: String) {
    let batch = crate::store::Batch {
        records: vec![crate::store::RecordWrite::delete(DUE_KIND, key)],
        ..Default::default()
    };
    if let Err(e) = engine.store.commit(batch).await {
        tracing::warn!(error = %e, "notify scheduler: dropping a due record failed");
    }
}
