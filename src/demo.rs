//! Demo data (`--demo`): a few queues and agents with known passwords, created only if
//! absent, so a person can open `/agent/` and `/chat/` and talk at once.

use crate::actors::Engine;
use crate::domain::{
    AgentId, AgentProfile, Capacity, Channel, Proficiency, QueueConfig, QueueName, Role, Skill,
};
use crate::store::Batch;
use std::collections::BTreeMap;

/// (id, display name, password, role, skills, queues)
type DemoAgent = (
    &'static str,
    &'static str,
    &'static str,
    Role,
    &'static [(&'static str, u8)],
    &'static [&'static str],
);

pub const DEMO_AGENTS: &[DemoAgent] = &[
    (
        "alice",
        "Alice",
        "alice-demo",
        Role::Agent,
        &[("billing", 4), ("lang-en", 5)],
        &["support", "billing"],
    ),
    (
        "kenji",
        "Kenji 健二",
        "kenji-demo",
        Role::Agent,
        &[("lang-ja", 5), ("billing", 2)],
        &["support", "support-ja"],
    ),
    (
        "sato",
        "Sato 佐藤",
        "sato-demo",
        Role::Supervisor,
        &[("lang-ja", 4), ("billing", 5)],
        &["support", "support-ja", "billing"],
    ),
    (
        "admin",
        "Administrator",
        "admin-demo",
        Role::Admin,
        &[],
        &[],
    ),
];

fn skills(list: &[(&str, u8)]) -> BTreeMap<Skill, Proficiency> {
    list.iter()
        .map(|(s, p)| {
            (
                Skill::parse(s).expect("demo skill"),
                Proficiency::new(*p).expect("demo level"),
            )
        })
        .collect()
}

pub async fn seed(engine: &Engine) -> anyhow::Result<()> {
    let store = &engine.store;
    let existing: Vec<QueueName> = store.queues().await?.into_iter().map(|q| q.name).collect();
    let mut batch = Batch::default();
    let mut support = QueueConfig::new(QueueName::parse("support").expect("static"));
    support.display_name = "Support".into();
    support.default_for = Channel::ALL.to_vec();
    let mut billing = QueueConfig::new(QueueName::parse("billing").expect("static"));
    billing.display_name = "Billing".into();
    billing.required_skills = skills(&[("billing", 3)]);
    let mut ja = QueueConfig::new(QueueName::parse("support-ja").expect("static"));
    ja.display_name = "サポート（日本語）".into();
    ja.required_skills = skills(&[("lang-ja", 3)]);
    for q in [support, billing, ja] {
        if !existing.contains(&q.name) {
            batch.queues.push(q);
        }
    }
    println!(
        "demo logins (open http://{}/agent/ and http://{}/chat/):",
        engine.settings.listen, engine.settings.listen
    );
    for (id, name, password, role, sk, queues) in DEMO_AGENTS {
        let agent_id = AgentId::parse(id).expect("demo id");
        println!("  {id:<6} / {password:<11} ({role:?})");
        if store.agent(&agent_id).await?.is_some() {
            continue;
        }
        let pw = password.to_string();
        let hash = engine.passwords.hash(pw).await?;
        batch.agents.push(AgentProfile {
            id: agent_id,
            display_name: name.to_string(),
            password_hash: hash,
            role: *role,
            skills: skills(sk),
            capacity: Capacity::default(),
            queues: queues
                .iter()
                .map(|q| QueueName::parse(q).expect("demo queue"))
                .collect(),
            disabled: false,
        });
    }
    if !batch.is_empty() {
        store.commit(batch).await?;
    }
    crate::kb::demo::seed(engine).await?;
    Ok(())
}
