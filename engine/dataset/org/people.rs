//! People, teams, skills and services: the base roster first, then generated teams of
//! about five (a manager and engineers) when the organisation is scaled up.

use super::roster::{
    self, EXTRA_TEAMS, FIRST_NAMES, LAST_NAMES, LOCATIONS, ROSTER, Role, SKILLS, TEAMS,
};
use super::{Employee, EmployeeSkill, Org, Rng, Service, ServiceDependency, Skill, Team};

/// Builds teams, employees and skills; `n` ≥ the roster size.
pub fn people(org: &mut Org, rng: &mut Rng, n: usize) {
    for (i, (name, category)) in SKILLS.iter().enumerate() {
        org.skills.push(Skill {
            id: i as i64 + 1,
            name: name.to_string(),
            category: category.to_string(),
        });
    }
    let team_count = (n / 5).max(TEAMS.len());
    for t in 0..team_count {
        let (name, description) = match TEAMS.get(t) {
            Some(def) => (def.name.to_string(), def.description.to_string()),
            None => {
                let k = t - TEAMS.len();
                let base = EXTRA_TEAMS[k % EXTRA_TEAMS.len()];
                let round = k / EXTRA_TEAMS.len();
                let name = if round == 0 {
                    base.to_string()
                } else {
                    format!("{base} {}", round + 1)
                };
                (name, format!("{base} product area"))
            }
        };
        org.teams.push(Team {
            id: t as i64 + 1,
            name,
            description,
            manager_id: 0,
        });
    }
    let director = 1;
    for p in ROSTER.iter() {
        let id = org.employees.len() as i64 + 1;
        let team_id = p.team as i64 + 1;
        let manager_id = match p.role {
            Role::Director => None,
            Role::Manager => Some(director),
            Role::Engineer => None, // filled below once managers exist
        };
        push_employee(
            org,
            id,
            p.name,
            p.title,
            p.level,
            team_id,
            manager_id,
            p.location,
            p.tenure_years,
            p.role != Role::Engineer,
        );
        for (skill, prof) in p.skills {
            add_skill(org, id, skill, *prof);
        }
        if p.role == Role::Manager {
            org.teams[p.team].manager_id = id;
        }
    }
    // The director leads the team she sits in only through its manager.
    for e in org.employees.iter_mut() {
        if e.manager_id.is_none() && !e.is_manager {
            e.manager_id = Some(org.teams[(e.team_id - 1) as usize].manager_id);
        }
    }
    let extra_teams = team_count - TEAMS.len();
    let mut names = NameGen::default();
    // Managers of generated teams: groups of eight under a senior manager who reports to the director.
    for k in 0..extra_teams {
        let t = TEAMS.len() + k;
        let head = k % 8 == 0;
        let manager_id = if head {
            director
        } else {
            org.teams[TEAMS.len() + k / 8 * 8].manager_id
        };
        let id = org.employees.len() as i64 + 1;
        let title = if head {
            "Senior Engineering Manager"
        } else {
            "Engineering Manager"
        };
        let name = names.next();
        let location = *rng.pick(&LOCATIONS);
        let tenure = 1.0 + rng.f64() * 6.0;
        push_employee(
            org,
            id,
            &name,
            title,
            if head { "M2" } else { "M1" },
            t as i64 + 1,
            Some(manager_id),
            location,
            tenure,
            true,
        );
        org.teams[t].manager_id = id;
        random_skills(org, rng, id, t, 2);
    }
    // Engineers: spread over the generated teams, or over the base teams if there are none.
    let remaining = n - org.employees.len();
    for k in 0..remaining {
        let t = if extra_teams > 0 {
            TEAMS.len() + k % extra_teams
        } else {
            k % TEAMS.len()
        };
        let id = org.employees.len() as i64 + 1;
        let (title, level) = *rng.pick(&[
            ("Software Engineer", "L3"),
            ("Software Engineer", "L4"),
            ("Software Engineer", "L4"),
            ("Senior Software Engineer", "L5"),
            ("Senior Software Engineer", "L5"),
            ("Staff Engineer", "L6"),
        ]);
        let name = names.next();
        let location = *rng.pick(&LOCATIONS);
        let tenure = 0.3 + rng.f64() * 7.0;
        let manager = org.teams[t].manager_id;
        push_employee(
            org,
            id,
            &name,
            title,
            level,
            t as i64 + 1,
            Some(manager),
            location,
            tenure,
            false,
        );
        random_skills(org, rng, id, t, 3);
    }
}

#[allow(clippy::too_many_arguments)]
fn push_employee(
    org: &mut Org,
    id: i64,
    name: &str,
    title: &str,
    level: &str,
    team_id: i64,
    manager_id: Option<i64>,
    location: &str,
    tenure_years: f64,
    is_manager: bool,
) {
    let hire_date =
        (super::as_of() - chrono::Duration::days((tenure_years * 365.25) as i64)).date_naive();
    let email = format!(
        "{}@example.com",
        name.to_lowercase().replace(". ", ".").replace(' ', ".")
    );
    org.employees.push(Employee {
        id,
        name: name.to_string(),
        email,
        title: title.to_string(),
        level: level.to_string(),
        team_id,
        manager_id,
        location: location.to_string(),
        hire_date,
        is_manager,
    });
}

fn add_skill(org: &mut Org, employee_id: i64, skill: &str, proficiency: i64) {
    let skill_id = org
        .skills
        .iter()
        .find(|s| s.name == skill)
        .unwrap_or_else(|| panic!("roster skill {skill} is in SKILLS"))
        .id;
    // One employee's skills are pushed together, so only the tail needs checking.
    let known = org
        .employee_skills
        .iter()
        .rev()
        .take_while(|s| s.employee_id == employee_id)
        .any(|s| s.skill_id == skill_id);
    if !known {
        org.employee_skills.push(EmployeeSkill {
            employee_id,
            skill_id,
            proficiency,
        });
    }
}

/// `n` skills from the team's profile plus one general skill.
fn random_skills(org: &mut Org, rng: &mut Rng, id: i64, team: usize, n: usize) {
    let profile = TEAMS[team % TEAMS.len()].skills;
    for i in rng.sample(profile.len(), n) {
        let p = rng.range(2, 5);
        add_skill(org, id, profile[i], p);
    }
    let general = ["CI/CD", "Testing", "Python", "SQL", "AWS"];
    let s = *rng.pick(&general);
    let p = rng.range(1, 4);
    add_skill(org, id, s, p);
}

/// Unique generated names: every first × last pair, then with a middle initial.
#[derive(Default)]
struct NameGen {
    i: usize,
}

impl NameGen {
    fn next(&mut self) -> String {
        let (nf, nl) = (FIRST_NAMES.len(), LAST_NAMES.len());
        let i = self.i;
        self.i += 1;
        let pair = i % (nf * nl);
        // Stride through last names so consecutive people do not share a surname.
        let first = FIRST_NAMES[pair % nf];
        let last = LAST_NAMES[(pair / nf + pair * 7) % nl];
        match i / (nf * nl) {
            0 => format!("{first} {last}"),
            round => format!(
                "{first} {}. {last}",
                (b'A' + ((round - 1) % 26) as u8) as char
            ),
        }
    }
}

/// Services with owners and dependencies: the base twelve, then two per generated team.
pub fn services(org: &mut Org, rng: &mut Rng) {
    for def in roster::SERVICES.iter() {
        let owner = org.employee_by_name(def.owner).expect("owner in roster").id;
        org.services.push(Service {
            id: org.services.len() as i64 + 1,
            name: def.name.into(),
            team_id: def.team as i64 + 1,
            owner_id: owner,
            language: def.language.into(),
            tier: def.tier.into(),
            description: def.description.into(),
            stack: def.stack.iter().map(|s| s.to_string()).collect(),
        });
    }
    for def in roster::SERVICES.iter() {
        let id = org.service_by_name(def.name).expect("defined").id;
        for dep in def.depends_on {
            let depends_on_id = org.service_by_name(dep).expect("dependency defined").id;
            org.service_dependencies.push(ServiceDependency {
                service_id: id,
                depends_on_id,
            });
        }
    }
    for t in TEAMS.len()..org.teams.len() {
        let team = org.teams[t].clone();
        let members: Vec<i64> = org
            .employees
            .iter()
            .filter(|e| e.team_id == team.id && !e.is_manager)
            .map(|e| e.id)
            .collect();
        let profile = TEAMS[t % TEAMS.len()].skills;
        let slug = team.name.to_lowercase().replace(' ', "-");
        for (suffix, what) in [("api", "API"), ("worker", "background jobs")] {
            let id = org.services.len() as i64 + 1;
            let owner = if members.is_empty() {
                team.manager_id
            } else {
                *rng.pick(&members)
            };
            let language = profile[0];
            org.services.push(Service {
                id,
                name: format!("{slug}-{suffix}"),
                team_id: team.id,
                owner_id: owner,
                language: language.into(),
                tier: if suffix == "api" {
                    "critical"
                } else {
                    "standard"
                }
                .into(),
                description: format!("{} {what}", team.name),
                stack: vec![language.into(), profile[1].into()],
            });
            // Depend on one or two earlier services: the dependency graph stays acyclic.
            let n = rng.range(1, 2) as usize;
            for k in rng.sample(id as usize - 1, n) {
                org.service_dependencies.push(ServiceDependency {
                    service_id: id,
                    depends_on_id: k as i64 + 1,
                });
            }
        }
    }
}
