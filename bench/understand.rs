//! Question understanding cost: `Understanding::read` (linking, windows, scoring every
//! tool, thread memory) on a set of managers' questions, against the demo organisation's
//! names and a grown one's. Prints the median and p99 per question and the vocabulary
//! build time. Run: `cargo bench --bench understand` (see bench/README.md).

use std::time::Instant;

use eng_intel::dataset::{as_of, generate};
use eng_intel::understand::{Calendar, Kind, Turn, Understanding, Vocabulary};

const QUESTIONS: &[&str] = &[
    "Find Python experts",
    "change failure rate for the data team",
    "show deployments of the ledger service",
    "how many incidents did we have in May?",
    "anyone who knows Go and Kafka?",
    "who has room for more work in the next sprint?",
    "what's our MTTR?",
    "which tickets have been in review for over a week?",
    "what reviews is Kenji Tanaka sitting on?",
    "truncate the deployments table",
    "best Kotlin developers",
    "compare deployment frequency of Mobile vs Platform",
    "Which team deploys most often?",
    "who reports to the Payments manager?",
    "who is the CTO?",
    "what should I be worried about this week?",
    "who is on call next week for payments",
    "time off between July 1 and Aug 15",
    "top 3 reviewers last quarter",
    "is Sofai Rossi overloaded?",
];

fn vocabulary(employees: usize) -> Vocabulary {
    let org = generate(42, employees);
    let mut names: Vec<(Kind, String)> = Vec::new();
    names.extend(org.employees.iter().map(|e| (Kind::Person, e.name.clone())));
    names.extend(org.teams.iter().map(|t| (Kind::Team, t.name.clone())));
    names.extend(org.services.iter().map(|s| (Kind::Service, s.name.clone())));
    names.extend(org.skills.iter().map(|s| (Kind::Skill, s.name.clone())));
    names.extend(org.projects.iter().map(|p| (Kind::Project, p.name.clone())));
    let mut titles: Vec<String> = org.employees.iter().map(|e| e.title.clone()).collect();
    titles.sort();
    titles.dedup();
    names.extend(titles.into_iter().map(|t| (Kind::Title, t)));
    let t0 = Instant::now();
    let v = Vocabulary::new(names, Some(Calendar::at(as_of())));
    println!(
        "vocabulary of {} employees, {} teams, {} services: built in {:.1} ms",
        org.employees.len(),
        org.teams.len(),
        org.services.len(),
        t0.elapsed().as_secs_f64() * 1e3
    );
    v
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (project, report) = eng_intel::validate::validate_dir(root).expect("project loads");
    assert!(!report.has_errors(), "{report}");
    let set = eng_intel::compile::compile(project).expect("project compiles");
    let lex = set.lexicon();
    let thread = [Turn {
        question: "who is on the payments team?".into(),
        answer: "The Payments team has 5 members: Daniel Okafor (lead), Sofia Rossi …".into(),
    }];
    println!(
        "| organisation | questions | median per question | p99 | follow-up (1 earlier turn) median |"
    );
    println!("|---|---|---|---|---|");
    for employees in [18, 2000] {
        let vocab = vocabulary(employees);
        let mut times = Vec::new();
        let mut follow = Vec::new();
        for _ in 0..50 {
            for q in QUESTIONS {
                let t0 = Instant::now();
                std::hint::black_box(Understanding::read(q, &[], lex, &vocab));
                times.push(t0.elapsed().as_secs_f64() * 1e6);
                let t0 = Instant::now();
                std::hint::black_box(Understanding::read(
                    "and what about Mobile?",
                    &thread,
                    lex,
                    &vocab,
                ));
                follow.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        let pct = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * p) as usize]
        };
        println!(
            "| {employees} employees | {} | {:.0} µs | {:.0} µs | {:.0} µs |",
            QUESTIONS.len(),
            pct(&mut times, 0.5),
            pct(&mut times, 0.99),
            pct(&mut follow, 0.5)
        );
    }
}
