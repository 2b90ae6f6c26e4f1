//! Demo data (`--demo`): a few queues and agents with known passwords, created only if
//! absent, so a person can open `/agent/` and `/chat/` and talk at once.

use crate::domain::{
    AgentId, AgentProfile, Capacity, Channel, Proficiency, QueueConfig, QueueName, Role, Skill,
};
use crate::store::Batch;
use crate::Server;
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

/// One account of the demo's login list and the password that works for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogin {
    pub id: &'static str,
    pub role: Role,
    /// The demo password, or `None` when the account existed before with another
    /// password (e.g. `admin` created by `--admin-password`): the demo leaves existing
    /// accounts, and their passwords, alone.
    pub password: Option<&'static str>,
}

impl std::fmt::Display for DemoLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let password = self.password.unwrap_or("(its own password)");
        write!(f, "  {:<6} / {password:<11} ({:?})", self.id, self.role)
    }
}

/// Creates the demo queues, agents, canned responses and articles that do not exist
/// yet, and returns the login list to print.
pub async fn seed(server: &Server) -> anyhow::Result<Vec<DemoLogin>> {
    let store = &server.store;
    let existing: Vec<QueueName> = store.queues().await?.into_iter().map(|q| q.name).collect();
    let mut batch = Batch::default();
    let mut support = QueueConfig::new(QueueName::parse("support").expect("static"));
    support.display_name = "Support".into();
    support.default_for = Channel::ALL.to_vec();
    // Replies within 2 minutes, then 5; email within 4 hours, then 8.
    support.response_times = Some(crate::domain::ResponseTargets {
        first_ms: Some(120_000),
        next_ms: Some(300_000),
        channels: [(
            Channel::Email,
            crate::domain::ChannelTargets {
                first_ms: Some(4 * 3_600_000),
                next_ms: Some(8 * 3_600_000),
            },
        )]
        .into(),
        overdue_boost: 10,
    });
    let mut billing = QueueConfig::new(QueueName::parse("billing").expect("static"));
    billing.display_name = "Billing".into();
    billing.required_skills = skills(&[("billing", 3)]);
    // Its agents pick a wrap-up code at resolve (`DEMO_WRAPUP`).
    billing.wrapup_required = true;
    let mut ja = QueueConfig::new(QueueName::parse("support-ja").expect("static"));
    ja.display_name = "サポート（日本語）".into();
    ja.required_skills = skills(&[("lang-ja", 3)]);
    for q in [support, billing, ja] {
        if !existing.contains(&q.name) {
            batch.queues.push(q);
        }
    }
    let mut logins = Vec::new();
    for (id, name, password, role, sk, queues) in DEMO_AGENTS {
        let agent_id = AgentId::parse(id).expect("demo id");
        if let Some(existing) = store.agent(&agent_id).await? {
            // Seeded by an earlier `--demo` run, or made another way (`--admin-password`):
            // print the demo password only where it still works.
            let works = server
                .passwords
                .verify(password.to_string(), existing.password_hash)
                .await?;
            logins.push(DemoLogin {
                id,
                role: *role,
                password: works.then_some(*password),
            });
            continue;
        }
        logins.push(DemoLogin {
            id,
            role: *role,
            password: Some(*password),
        });
        let pw = password.to_string();
        let hash = server.passwords.hash(pw).await?;
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
            phone: None,
        });
    }
    demo_canned(server, &mut batch).await?;
    demo_wrapup(server, &mut batch).await?;
    if !batch.is_empty() {
        store.commit(batch).await?;
    }
    crate::kb::demo::seed(server, server.kb()).await?;
    Ok(logins)
}

/// Wrap-up codes (docs/admin.md "Wrap-up codes"): (code, Japanese, English, the one
/// queue it is limited to or every queue).
const DEMO_WRAPUP: &[(&str, &str, &str, Option<&str>)] = &[
    ("resolved", "解決済み", "Resolved", None),
    ("follow_up", "要フォローアップ", "Follow-up needed", None),
    (
        "refund_issued",
        "返金手続き済み",
        "Refund issued",
        Some("billing"),
    ),
    (
        "invoice_explained",
        "請求内容を説明",
        "Invoice explained",
        Some("billing"),
    ),
];

/// Adds the demo wrap-up codes the store does not have yet.
async fn demo_wrapup(server: &Server, batch: &mut Batch) -> anyhow::Result<()> {
    use switchboard_engine::actors::wrapup::{Label, WrapupCode, KIND};
    for (code, ja, en, queue) in DEMO_WRAPUP {
        if server.store.record(KIND, code).await?.is_some() {
            continue;
        }
        let c = WrapupCode {
            code: code.to_string(),
            label: Label {
                ja: ja.to_string(),
                en: en.to_string(),
            },
            queues: queue
                .iter()
                .map(|q| QueueName::parse(q).expect("demo queue"))
                .collect(),
            active: true,
            version: 1,
        };
        batch.records.push(crate::store::RecordWrite::put(
            KIND,
            *code,
            serde_json::to_vec(&c)?,
        ));
    }
    Ok(())
}

/// A few canned responses in English and Japanese (agent assist, docs/assist.md).
const DEMO_CANNED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "greeting-en",
        "en",
        "greet",
        "Greeting",
        "Hello {{customer.name}}, this is {{agent.name}}. How can I help you today?",
    ),
    (
        "order-status-en",
        "en",
        "order",
        "Order status",
        "Thank you for waiting, {{customer.name}}. I am checking your order now.",
    ),
    (
        "greeting-ja",
        "ja",
        "aisatsu",
        "ご挨拶",
        "{{customer.name}}様、お問い合わせありがとうございます。担当の{{agent.name}}です。",
    ),
    (
        "apology-ja",
        "ja",
        "owabi",
        "お詫び",
        "{{customer.name?}}様、ご不便をおかけして大変申し訳ございません。",
    ),
];

async fn demo_canned(server: &Server, batch: &mut Batch) -> anyhow::Result<()> {
    for (id, lang, shortcut, title, text) in DEMO_CANNED {
        if server
            .store
            .record(crate::canned::KIND, id)
            .await?
            .is_some()
        {
            continue;
        }
        let c = crate::canned::Canned {
            id: id.to_string(),
            title: title.to_string(),
            text: text.to_string(),
            language: lang.to_string(),
            tags: vec!["demo".into()],
            shortcut: Some(shortcut.to_string()),
            version: 1,
            updated_at: server.now(),
            updated_by: "demo".into(),
        };
        crate::canned::check_template(&c.text, usize::MAX)
            .map_err(|e| anyhow::anyhow!("demo canned {id}: {e}"))?;
        batch.records.push(crate::store::RecordWrite::put(
            crate::canned::KIND,
            c.id.clone(),
            serde_json::to_vec(&c)?,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod canned_tests {
    #[test]
    fn demo_canned_templates_are_valid() {
        for (id, _, shortcut, _, text) in super::DEMO_CANNED {
            assert!(crate::canned::slug_ok(id, 64) && crate::canned::slug_ok(shortcut, 32));
            crate::canned::check_template(text, 4096).unwrap();
        }
    }
}
