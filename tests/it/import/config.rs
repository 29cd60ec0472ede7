//! import.yaml and the roster are checked like the rest of the configuration: each finding
//! with its code at `file:line:col`; and a roster's teams, managers and titles land on the
//! people found in git.

use std::sync::Arc;

use eng_intel::import;
use eng_intel::model::offline::OfflineModel;
use eng_intel::run::{Engine, Event, RunRequest};
use sqlx::Row;

use super::{bundle, clone_into, config_for, db, run_import};
use crate::support::{Vars, config, write};

fn findings(dir: &std::path::Path, text: &str) -> String {
    write(dir, "import.yaml", text);
    match import::load_config(&dir.join("import.yaml")) {
        Ok(_) => String::new(),
        Err(r) => r.to_string(),
    }
}

#[test]
fn shape_errors_point_at_the_field_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let f = findings(
        dir.path(),
        "repositories:\n  - path: here\n    branchh: main\nexclude:\n  paths: ['**/*.lock']\nskill_half_life_days: 0\n",
    );
    assert!(
        f.contains("import.yaml:3:5: error[E002]") && f.contains("did you mean \"branch\""),
        "{f}"
    );
    assert!(
        f.contains("import.yaml:6:23: error[E005]") || f.contains("import.yaml:6:23: error[E003]"),
        "{f}"
    );
    let f = findings(dir.path(), "repos:\n  - path: x\n");
    assert!(
        f.contains("error[E004]") || f.contains("error[E002]"),
        "{f}"
    );
    let f = findings(dir.path(), "repositories: [\n");
    assert!(f.contains("error[E001]"), "{f}");
}

#[test]
fn what_only_the_disk_tells_is_checked_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let f = findings(
        dir.path(),
        "repositories:\n  - path: nowhere\n  - path: empty\n    services:\n      - name: api\n        paths: [api/**]\n      - name: api\n        paths: [' ']\nroster: people.csv\n",
    );
    assert!(
        f.contains("import.yaml:2:11: error[E080]: repository \"nowhere\" does not exist"),
        "{f}"
    );
    assert!(
        f.contains("import.yaml:3:11: error[E080]") && f.contains("not a git clone"),
        "{f}"
    );
    assert!(f.contains("import.yaml:7:15: error[E083]"), "{f}");
    assert!(f.contains("import.yaml:8:17: error[E081]"), "{f}");
    assert!(f.contains("import.yaml:9:9: error[E082]"), "{f}");
}

#[tokio::test]
async fn the_roster_gives_teams_managers_and_titles_to_the_people_in_git() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    clone_into(&bundle, dir.path());
    write(
        dir.path(),
        "people.csv",
        "name,email,team,manager,title,location\n\
         David Pedersen,david.pdrsn@gmail.com,Core,,Lead Maintainer,Copenhagen\n\
         Jonas Platte,jplatte+git@posteo.de,Core,David Pedersen,Maintainer,\n\
         Ada Example,ada@example.org,Docs,david.pdrsn@gmail.com,Technical Writer,\n",
    );
    let import_config = config_for(dir.path(), "roster: people.csv\ndefault_team: Community\n");
    let data = dir.path().join("data");
    let summary = run_import(&import_config, &data).await;
    assert_eq!(summary.stats.roster_only, 1, "Ada has no commit");
    // The unmatched are listed in a file, with their e-mails and commits.
    let report = std::fs::read_to_string(summary.unmatched_file.as_ref().unwrap()).unwrap();
    assert_eq!(report.lines().count(), 1 + summary.stats.unmatched.len());
    assert!(report.starts_with("name,emails,commits\n"), "{report}");
    assert!(!report.contains("David Pedersen"), "{report}");
    let committers = summary.org.employees.len() - 3;
    assert_eq!(
        summary.stats.unmatched.len(),
        committers,
        "everyone else is reported"
    );

    let db = db(&data).await;
    let row = sqlx::query(
        "SELECT e.title, t.name AS team, m.name AS manager FROM employees e JOIN teams t ON t.id = e.team_id \
         LEFT JOIN employees m ON m.id = e.manager_id WHERE e.name = 'Jonas Platte'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("title"), "Maintainer");
    assert_eq!(row.get::<String, _>("team"), "Core");
    assert_eq!(row.get::<String, _>("manager"), "David Pedersen");
    let head: String = sqlx::query_scalar(
        "SELECT e.name FROM teams t JOIN employees e ON e.id = t.manager_id WHERE t.name = 'Core'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(head, "David Pedersen");
    let community: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM employees e JOIN teams t ON t.id = e.team_id WHERE t.name = 'Community'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(community as usize, committers);

    // The reporting line answers questions.
    let stores = eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(&data).settings(), &|m| {
        panic!("already loaded, yet: {m}")
    })
    .await
    .unwrap();
    let engine = Engine::new(config(), Arc::new(OfflineModel), stores.tools());
    let mut answer = String::new();
    for e in engine
        .run_collect(RunRequest {
            question: "Who reports to David Pedersen?".into(),
            ..Default::default()
        })
        .await
    {
        if let Event::Response { content } = e.event {
            answer = content;
        }
    }
    assert!(
        answer.contains("Jonas Platte") && answer.contains("Ada Example"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_rosters_on_call_and_time_off_answer_staffing_questions() {
    let Some(bundle) = bundle() else { return };
    let dir = tempfile::tempdir().unwrap();
    clone_into(&bundle, dir.path());
    write(
        dir.path(),
        "people.yaml",
        "people:\n\
         \x20 - name: David Pedersen\n\
         \x20   email: david.pdrsn@gmail.com\n\
         \x20   team: Core\n\
         \x20   oncall: [2026-01-05T09:00..2026-01-12T09:00 primary]\n\
         \x20   time_off: 2026-02-02..2026-02-06 vacation\n\
         \x20 - name: Jonas Platte\n\
         \x20   emails: [jplatte+git@posteo.de]\n\
         \x20   team: Core\n\
         \x20   manager: David Pedersen\n\
         \x20   oncall: 2026-01-05T09:00..2026-01-12T09:00 secondary; 2026-01-12..2026-01-18 primary\n\
         \x20   time_off: [2026-02-04..2026-02-04 sick]\n",
    );
    let import_config = config_for(dir.path(), "roster: people.yaml\n");
    let data = dir.path().join("data");
    run_import(&import_config, &data).await;

    let stores = eng_intel::toolbox::Toolbox::open(&Vars::new().data_dir(&data).settings(), &|m| {
        panic!("already loaded, yet: {m}")
    })
    .await
    .unwrap();
    let tools = stores.tools();
    let set = config();
    let call = |tool: &'static str, args: serde_json::Value| {
        let (tools, set) = (tools.clone(), &set);
        async move { tools.call(set.tool(tool).unwrap(), &args).await.unwrap() }
    };
    let rows = |v: serde_json::Value, keys: &[&str]| -> Vec<Vec<String>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                keys.iter()
                    .map(|k| r[*k].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .collect()
    };
    // The week of 5 January: David primary, Jonas secondary; the week after, Jonas alone
    // (whole days: from midnight on the 12th, so both weeks overlap the 12th).
    let week = call(
        "on_call",
        serde_json::json!({"team": "Core", "since": "2026-01-06", "until": "2026-01-08"}),
    )
    .await;
    assert_eq!(
        rows(week, &["name", "role"]),
        [["David Pedersen", "primary"], ["Jonas Platte", "secondary"]]
    );
    let later = call(
        "on_call",
        serde_json::json!({"team": "Core", "since": "2026-01-14", "until": "2026-01-15"}),
    )
    .await;
    assert_eq!(
        rows(later, &["name", "role"]),
        [["Jonas Platte", "primary"]]
    );
    let off = call(
        "upcoming_time_off",
        serde_json::json!({"since": "2026-02-01", "until": "2026-02-28"}),
    )
    .await;
    assert_eq!(
        rows(off, &["name", "kind", "starts_on", "ends_on"]),
        [
            ["David Pedersen", "vacation", "2026-02-02", "2026-02-06"],
            ["Jonas Platte", "sick", "2026-02-04", "2026-02-04"]
        ]
    );
}
