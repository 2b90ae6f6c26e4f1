//! Smoke run of the load-test harness (`loadtest` crate, scenario mode) against a real
//! engine: the `steady` preset scaled down to a few seconds. Asserts only on counts —
//! every arrival answered or abandoned exactly once, nothing left waiting after the
//! drain, every message received exactly once, no unexpected `error` frame — never on
//! timings.

use crate::helpers::{spawn_app, ADMIN_PASSWORD};
use loadtest::scenario::config::{Dist, Scenario};
use loadtest::{run_scenario, ScenarioArgs};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_scenario_accounts_for_every_arrival_and_message() {
    let app = spawn_app(|s| s.limits.ws_messages_per_second = 100_000).await;
    let mut sc = Scenario::load("steady").expect("preset");
    sc.agents.count = 4;
    sc.agents.capacity.chat = 1;
    sc.agents.capacity.messaging = 1;
    sc.agents.handle_time = Dist::Fixed { s: 0.5 };
    sc.agents.wrap_up_s = 0.1;
    sc.agents.reject_probability = 0.1;
    sc.arrivals.rate_per_s = 14.0;
    sc.conversation.messages = 2;
    sc.conversation.think_time = Dist::Fixed { s: 0.05 };
    // Four slots, each busy ~0.6 s, against 14 arrivals/s: a queue builds and impatient
    // chat customers abandon while others wait (REST customers never abandon).
    sc.conversation.patience = Dist::Exponential { mean_s: 0.4 };
    sc.channels.chat = 0.8;
    sc.channels.sms = 0.2;
    let mut args = ScenarioArgs::new(&app.base, ADMIN_PASSWORD, sc);
    args.duration = Some(Duration::from_secs(3));
    args.seed = 7;
    let r = run_scenario(&args).await.expect("scenario runs");
    let a = &r.accounting;
    let table = r.table();
    assert!(
        a.arrivals >= 10,
        "too few arrivals to mean anything\n{table}"
    );
    assert_eq!(
        a.arrivals,
        a.answered + a.abandoned + a.refused + a.still_waiting,
        "{table}"
    );
    assert_eq!(a.still_waiting, 0, "{table}");
    assert_eq!(a.refused, 0, "{table}");
    assert!(a.violations.is_empty(), "{:?}\n{table}", a.violations);
    assert!(a.answered > 0, "{table}");
    assert!(
        a.abandoned > 0,
        "the patience draw should make some abandon\n{table}"
    );
    assert_eq!(a.accepted, a.answered, "{table}");
    assert!(
        a.offered >= a.accepted + a.rejected - a.revoked.min(a.rejected),
        "{table}"
    );
    // Every answered conversation ended: resolved by its agent or left by the customer.
    assert_eq!(a.completed + a.left_after_answer, a.answered, "{table}");
    for f in [&r.customer_to_agent, &r.agent_to_customer] {
        assert!(f.sent > 0, "{table}");
        assert_eq!(
            f.received, f.sent,
            "every message received exactly once\n{table}"
        );
        assert_eq!(f.lost, 0, "{table}");
    }
    // Replies answer customer messages one for one.
    assert_eq!(
        r.agent_to_customer.sent, r.customer_to_agent.received,
        "{table}"
    );
    // A customer leaving just as an agent acts on its conversation is a legitimate race.
    let unexpected: Vec<_> = r
        .errors
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "ws:not_yours" | "ws:offer_not_found"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}\n{table}");
    assert!(r.ok, "{table}");
    assert!(!r.series.is_empty());
    eprintln!("{table}");
}
