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
CREATE INDEX ci_runs_service ON ci_runs (service, started_at);
CREATE INDEX tickets_team ON tickets (team_id, status, created_at);
-- When the pull requests' history begins (the anomaly series' first day).
CREATE INDEX pull_requests_opened ON pull_requests (opened_at);
-- Statistics for the new indexes on data loaded before them.
ANALYZE;
