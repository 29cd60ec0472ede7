-- The demo organisation's schema (docs/DATA.md describes every table).
-- Timestamps are ISO-8601 UTC text ('2025-06-30T14:05:00Z'), dates 'YYYY-MM-DD':
-- they sort and compare as text the same way in SQLite and PostgreSQL.

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Relational: people, teams, skills, services, planning.
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL, manager_id INTEGER NOT NULL);
CREATE TABLE employees (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, title TEXT NOT NULL, level TEXT NOT NULL,
  team_id INTEGER NOT NULL, manager_id INTEGER, location TEXT NOT NULL, hire_date TEXT NOT NULL, is_manager INTEGER NOT NULL
);
CREATE INDEX employees_team ON employees (team_id);
CREATE INDEX employees_manager ON employees (manager_id);
CREATE INDEX employees_name ON employees (name);
CREATE TABLE skills (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, category TEXT NOT NULL);
CREATE TABLE employee_skills (employee_id INTEGER NOT NULL, skill_id INTEGER NOT NULL, proficiency INTEGER NOT NULL, PRIMARY KEY (employee_id, skill_id));
CREATE INDEX employee_skills_skill ON employee_skills (skill_id);
CREATE TABLE services (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, team_id INTEGER NOT NULL, owner_id INTEGER NOT NULL,
  language TEXT NOT NULL, tier TEXT NOT NULL, description TEXT NOT NULL, stack TEXT NOT NULL
);
CREATE TABLE service_dependencies (service_id INTEGER NOT NULL, depends_on_id INTEGER NOT NULL, PRIMARY KEY (service_id, depends_on_id));
CREATE TABLE projects (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER NOT NULL, lead_id INTEGER NOT NULL, status TEXT NOT NULL,
  start_date TEXT NOT NULL, due_date TEXT NOT NULL, description TEXT NOT NULL
);
CREATE TABLE sprints (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL, name TEXT NOT NULL, number INTEGER NOT NULL, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL);
CREATE INDEX sprints_team ON sprints (team_id, starts_on);
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL, title TEXT NOT NULL, team_id INTEGER NOT NULL, sprint_id INTEGER, project_id INTEGER,
  assignee_id INTEGER, points INTEGER NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL, completed_at TEXT
);
CREATE INDEX tickets_sprint ON tickets (sprint_id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, status);
CREATE INDEX tickets_project ON tickets (project_id);
CREATE TABLE oncall_shifts (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL, employee_id INTEGER NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, role TEXT NOT NULL);
CREATE INDEX oncall_shifts_time ON oncall_shifts (starts_at);
CREATE TABLE time_off (id INTEGER PRIMARY KEY, employee_id INTEGER NOT NULL, starts_on TEXT NOT NULL, ends_on TEXT NOT NULL, kind TEXT NOT NULL);
CREATE INDEX time_off_employee ON time_off (employee_id);
CREATE TABLE one_on_ones (id INTEGER PRIMARY KEY, manager_id INTEGER NOT NULL, employee_id INTEGER NOT NULL, held_on TEXT NOT NULL, notes TEXT NOT NULL);
CREATE INDEX one_on_ones_employee ON one_on_ones (employee_id, held_on);
CREATE TABLE documents (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, team_id INTEGER, service_id INTEGER,
  author_id INTEGER NOT NULL, incident_id INTEGER, created_at TEXT NOT NULL
);

-- Metrics: events over time, self-contained (names denormalised) so that a column store
-- can hold them without joins to the relational tables.
CREATE TABLE commits (
  sha TEXT PRIMARY KEY, author_id INTEGER NOT NULL, author TEXT NOT NULL, team TEXT NOT NULL, service TEXT NOT NULL,
  service_team TEXT NOT NULL, pr_id INTEGER NOT NULL, authored_at TEXT NOT NULL, message TEXT NOT NULL,
  additions INTEGER NOT NULL, deletions INTEGER NOT NULL, deployment_id INTEGER
);
CREATE INDEX commits_author ON commits (author, authored_at);
CREATE INDEX commits_service ON commits (service);
CREATE TABLE pull_requests (
  id INTEGER PRIMARY KEY, title TEXT NOT NULL, author_id INTEGER NOT NULL, author TEXT NOT NULL, team TEXT NOT NULL,
  service TEXT NOT NULL, service_team TEXT NOT NULL, state TEXT NOT NULL, first_commit_at TEXT NOT NULL, opened_at TEXT NOT NULL,
  merged_at TEXT, deployment_id INTEGER
);
CREATE INDEX pull_requests_author ON pull_requests (author, opened_at);
CREATE INDEX pull_requests_deployment ON pull_requests (deployment_id);
CREATE TABLE pr_reviews (
  id INTEGER PRIMARY KEY, pr_id INTEGER NOT NULL, reviewer_id INTEGER NOT NULL, reviewer TEXT NOT NULL, reviewer_team TEXT NOT NULL,
  author_id INTEGER NOT NULL, author TEXT NOT NULL, service TEXT NOT NULL, requested_at TEXT NOT NULL, reviewed_at TEXT,
  wait_hours REAL, verdict TEXT NOT NULL
);
CREATE INDEX pr_reviews_reviewer ON pr_reviews (reviewer, requested_at);
CREATE TABLE ci_runs (
  id INTEGER PRIMARY KEY, pr_id INTEGER NOT NULL, service TEXT NOT NULL, team TEXT NOT NULL, started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL, duration_s INTEGER NOT NULL, status TEXT NOT NULL
);
CREATE INDEX ci_runs_time ON ci_runs (started_at);
CREATE TABLE deployments (
  id INTEGER PRIMARY KEY, service TEXT NOT NULL, team TEXT NOT NULL, environment TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT NOT NULL
);
CREATE INDEX deployments_time ON deployments (environment, finished_at);
CREATE TABLE incidents (
  id INTEGER PRIMARY KEY, title TEXT NOT NULL, severity TEXT NOT NULL, service TEXT NOT NULL, team TEXT NOT NULL,
  deployment_id INTEGER, opened_at TEXT NOT NULL, resolved_at TEXT, resolution_hours REAL
);
CREATE INDEX incidents_time ON incidents (opened_at);
CREATE INDEX incidents_deployment ON incidents (deployment_id);
