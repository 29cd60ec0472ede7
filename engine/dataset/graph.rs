//! The organisation as a graph server holds it: the embedded graph's model (people,
//! teams, skills and services; store/graph.rs builds the same from the tables) as Cypher
//! `UNWIND` statements with their rows. store/neo4j.rs tabulates the labels and
//! relationships.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use super::org::Org;
use crate::store::GraphRows;

/// The graph as `(statement, rows)` pairs, nodes before the relationships between them.
pub fn graph_rows(o: &Org) -> GraphRows {
    let team = |id: i64| o.team(id).name.as_str();
    let skill_by_name: HashMap<String, &str> = o
        .skills
        .iter()
        .map(|s| (s.name.to_lowercase(), s.name.as_str()))
        .collect();
    let skill_by_id: HashMap<i64, &str> =
        o.skills.iter().map(|s| (s.id, s.name.as_str())).collect();
    // Counts per pair, in a stable order.
    let mut commits: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for c in &o.commits {
        *commits.entry((c.author_id, c.service_id)).or_default() += 1;
    }
    let author_of: HashMap<i64, i64> = o
        .pull_requests
        .iter()
        .map(|p| (p.id, p.author_id))
        .collect();
    let mut reviews: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for r in o.reviews.iter().filter(|r| r.reviewed_at.is_some()) {
        if let Some(&author) = author_of.get(&r.pr_id) {
            *reviews.entry((r.reviewer_id, author)).or_default() += 1;
        }
    }
    vec![
        ("UNWIND $rows AS r CREATE (:Team {name: r.name})", o.teams.iter().map(|t| json!({"name": t.name})).collect()),
        ("UNWIND $rows AS r CREATE (:Skill {name: r.name})", o.skills.iter().map(|s| json!({"name": s.name})).collect()),
        (
            "UNWIND $rows AS r CREATE (:Person {id: r.id, name: r.name, title: r.title, team: r.team})",
            o.employees.iter().map(|e| json!({"id": e.id, "name": e.name, "title": e.title, "team": team(e.team_id)})).collect(),
        ),
        (
            "UNWIND $rows AS r CREATE (:Service {id: r.id, name: r.name, team: r.team, owner: r.owner, tier: r.tier})",
            o.services
                .iter()
                .map(|s| json!({"id": s.id, "name": s.name, "team": team(s.team_id), "owner": o.employee(s.owner_id).name, "tier": s.tier}))
                .collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (p:Person {id: r.id}), (t:Team {name: r.team}) CREATE (p)-[:MEMBER_OF]->(t)",
            o.employees.iter().map(|e| json!({"id": e.id, "team": team(e.team_id)})).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (p:Person {id: r.id}), (m:Person {id: r.manager}) CREATE (p)-[:REPORTS_TO]->(m)",
            o.employees.iter().filter_map(|e| e.manager_id.map(|m| json!({"id": e.id, "manager": m}))).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (p:Person {id: r.id}), (k:Skill {name: r.skill}) CREATE (p)-[:HAS_SKILL {proficiency: r.proficiency}]->(k)",
            o.employee_skills
                .iter()
                .map(|s| json!({"id": s.employee_id, "skill": skill_by_id[&s.skill_id], "proficiency": s.proficiency}))
                .collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (t:Team {name: r.team}), (s:Service {id: r.id}) CREATE (t)-[:OWNS]->(s)",
            o.services.iter().map(|s| json!({"team": team(s.team_id), "id": s.id})).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (s:Service {id: r.id}), (k:Skill {name: r.skill}) CREATE (s)-[:USES]->(k)",
            o.services
                .iter()
                .flat_map(|s| s.stack.iter().filter_map(|k| skill_by_name.get(&k.trim().to_lowercase())).map(|k| json!({"id": s.id, "skill": k})))
                .collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (a:Service {id: r.id}), (b:Service {id: r.on}) CREATE (a)-[:DEPENDS_ON]->(b)",
            o.service_dependencies.iter().map(|d| json!({"id": d.service_id, "on": d.depends_on_id})).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (p:Person {id: r.id}), (s:Service {id: r.service}) CREATE (p)-[:COMMITS_TO {commits: r.n}]->(s)",
            commits.iter().map(|((a, s), n)| json!({"id": a, "service": s, "n": n})).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (a:Person {id: r.id}), (b:Person {id: r.author}) CREATE (a)-[:REVIEWED {reviews: r.n}]->(b)",
            reviews.iter().map(|((a, b), n)| json!({"id": a, "author": b, "n": n})).collect(),
        ),
        (
            "UNWIND $rows AS r MATCH (a:Person {id: r.id}), (b:Person {id: r.other}) CREATE (a)-[:COLLABORATES_WITH {kind: r.kind, weight: r.weight}]->(b)",
            // Both directions, as the table holds them.
            o.collaborations
                .iter()
                .flat_map(|c| [(c.a_id, c.b_id), (c.b_id, c.a_id)].map(|(a, b)| json!({"id": a, "other": b, "kind": c.kind, "weight": c.weight})))
                .collect(),
        ),
    ]
}
