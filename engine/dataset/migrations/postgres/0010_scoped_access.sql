-- A team's or a service's events over a window: one index range each (the scope's key,
-- then time), instead of the whole organisation's window filtered row by row. At
-- --scale 5000, "who made the fewest commits on payments last month" read 90 ms of the
-- organisation's commits; through commits_team it reads the team's own.
CREATE INDEX commits_team ON commits (team, authored_at);
DROP INDEX commits_service;
CREATE INDEX commits_service ON commits (service, authored_at);
CREATE INDEX pull_requests_team ON pull_requests (team, merged_at);
CREATE INDEX pull_requests_service ON pull_requests (service, merged_at);
CREATE INDEX pull_requests_team_shipped ON pull_requests (service_team, deployed_at, lead_seconds);
CREATE INDEX pull_requests_service_shipped ON pull_requests (service, deployed_at, lead_seconds);
CREATE INDEX pr_reviews_team ON pr_reviews (reviewer_team, requested_at, reviewed_at, wait_hours);
CREATE INDEX pr_reviews_service ON pr_reviews (service, requested_at, reviewed_at, wait_hours);
CREATE INDEX deployments_team ON deployments (team, environment, finished_at, status);
CREATE INDEX deployments_service ON deployments (service, environment, finished_at, status);
CREATE INDEX ci_runs_team ON ci_runs (team, started_at);
-- Led by the service, then its team: SQLite groups a window's runs by service and team
-- skipping through this index in order instead of sorting them (ci_health over May at
-- --scale 5000, 122,388 runs: 111 → 36 ms).
CREATE INDEX ci_runs_scope ON ci_runs (service, team, started_at, status, duration_s);
CREATE INDEX tickets_team ON tickets (team_id, status, created_at);
-- A project's or a sprint's tickets with what their sums read (project_status,
-- team_velocity), without a lookup of each ticket.
DROP INDEX tickets_project;
CREATE INDEX tickets_project ON tickets (project_id, status, points);
DROP INDEX tickets_sprint;
CREATE INDEX tickets_sprint ON tickets (sprint_id, status, points);
-- A service's dependents, counted for each service `services` lists (PostgreSQL read all
-- 3,000 dependencies for each of 2,004 services: 180 ms at --scale 5000).
CREATE INDEX service_dependencies_dependent ON service_dependencies (depends_on_id);
-- When the pull requests' history begins (the anomaly series' first day).
CREATE INDEX pull_requests_opened ON pull_requests (opened_at);
-- Statistics for the new indexes on data loaded before them.
ANALYZE;
