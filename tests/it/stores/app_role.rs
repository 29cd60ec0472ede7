//! The least-privilege deployment (docs/DEPLOY.md, "Database role"): `eng-intel migrate`
//! as the owner, scripts/postgres-app-role.sql, then the service as the app role: chats
//! are answered and stored, and no organisation table can be written.

use std::process::Command;

use serde_json::json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::support::server::*;
use crate::support::{repo, require_server, settings};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_default()
}

fn succeeds(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_role_answers_chats_but_cannot_write_the_organisation() {
    if require_server("POSTGRES_HOST").is_none() {
        return;
    }
    let (host, port, user, password) = (
        var("POSTGRES_HOST"),
        var("POSTGRES_PORT"),
        var("POSTGRES_USER"),
        var("POSTGRES_PASSWORD"),
    );
    let tag = format!("{}_{}", std::process::id(), uuid::Uuid::new_v4().simple());
    let (db, role, role_pw) = (
        format!("eng_intel_role_{tag}"),
        format!("eng_intel_app_{tag}"),
        format!("pw-{tag}"),
    );
    let admin_url =
        |database: &str| format!("postgres://{user}:{password}@{host}:{port}/{database}");
    let mut admin = PgConnection::connect(&admin_url("postgres")).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
        .execute(&mut admin)
        .await
        .unwrap();

    // The owner's step, by the real binary.
    let dir = tempfile::tempdir().unwrap();
    succeeds(
        Command::new(env!("CARGO_BIN_EXE_eng-intel"))
            .arg("migrate")
            .current_dir(dir.path())
            .env_remove("CLICKHOUSE_HOST")
            .env_remove("NEO4J_URI")
            .env("POSTGRES_DATABASE", &db)
            .env("DATA_DIR", dir.path().join("owner")),
    );
    // The app role, by the documented script.
    succeeds(
        Command::new("bash")
            .arg(repo().join("scripts/servers.sh"))
            .args(["psql", "-d", &db, "-v", &format!("app_role={role}")])
            .args(["-v", &format!("app_password={role_pw}"), "-f"])
            .arg(repo().join("scripts/postgres-app-role.sql")),
    );

    // The service as the app role: it starts (no DDL), answers and stores a chat.
    let data = tempfile::tempdir().unwrap();
    let app = settings(&[
        ("POSTGRES_HOST", host.as_str()),
        ("POSTGRES_PORT", port.as_str()),
        ("POSTGRES_DATABASE", db.as_str()),
        ("POSTGRES_USER", role.as_str()),
        ("POSTGRES_PASSWORD", role_pw.as_str()),
        ("DATA_DIR", data.path().to_str().unwrap()),
    ]);
    let threads = eng_intel::threads::open(&app).await.unwrap();
    let toolbox = eng_intel::toolbox::Toolbox::open(&app, &|_| {})
        .await
        .unwrap();
    let mut o = Options::new(data.path());
    o.threads = Some(threads);
    o.tools = toolbox.tools();
    let server = Server::start(o).await;
    let (status, answer) = send_json(
        client()
            .post(server.url("/api/chat/sync"))
            .json(&json!({"message": "headcount of Payments"})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["thread_id"].as_str().unwrap();
    let (status, thread) = get_json(server.url(&format!("/api/threads/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(thread["messages"].as_array().unwrap().len(), 2, "{thread}");
    let (status, _) = send_json(client().delete(server.url(&format!("/api/threads/{id}")))).await;
    assert_eq!(status, 200);
    server.stop().await;

    // …and cannot change the organisation or the schema.
    let app_url = format!("postgres://{role}:{role_pw}@{host}:{port}/{db}");
    let mut conn = PgConnection::connect(&app_url).await.unwrap();
    for sql in [
        "INSERT INTO teams (name) VALUES ('Intruders')",
        "UPDATE employees SET name = 'x'",
        "DELETE FROM incidents",
        "DROP TABLE chat_messages",
        "CREATE TABLE intruder (x int)",
    ] {
        let e = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect_err(sql);
        let msg = e.to_string();
        assert!(
            msg.contains("permission denied") || msg.contains("must be owner"),
            "{sql}: {msg}"
        );
    }
    drop(conn);
    for sql in [
        format!("DROP DATABASE \"{db}\" WITH (FORCE)"),
        format!("DROP ROLE \"{role}\""),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
