//! `--demo` as README.md describes it: the demo agents log in with the passwords the
//! engine prints, its queues exist, and an account that existed before the demo (the
//! `admin` that `--admin-password` created) is printed without the demo password,
//! which does not work for it.

use crate::helpers::*;
use serde_json::json;
use switchboard::demo::{seed, DemoLogin};
use switchboard::domain::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_logins_print_the_passwords_that_work() {
    let app = spawn_app(|s| s.demo = true).await;
    let server = app.engine.clone().expect("server handle");

    // Seeding again is idempotent and reports what works now.
    let logins = seed(&server).await.expect("seed");
    let admin = DemoLogin {
        id: "admin",
        role: Role::Admin,
        password: None,
    };
    assert!(logins.contains(&admin), "{logins:?}");
    assert_eq!(admin.to_string(), "  admin  / (its own password) (Admin)");
    for login in logins.iter().filter(|l| l.id != "admin") {
        let password = login
            .password
            .expect("a demo account keeps its demo password");
        app.login(login.id, password).await;
    }
    // The admin's demo password is not a way in; the bootstrap password is.
    let r = app
        .http
        .post(format!("{}/api/v1/login", app.base))
        .json(&json!({"agent_id": "admin", "password": "admin-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.login("admin", ADMIN_PASSWORD).await;

    // The demo queues README lists.
    for q in ["support", "billing", "support-ja"] {
        let (s, _) = app.get(&format!("/api/v1/queues/{q}")).await;
        assert_eq!(s, 200, "queue {q}");
    }
}
