-- The windowed aggregates (ci_health, incident_stats, review_stats, review_wait_by_team,
-- metric_anomalies' daily series) read a time range and a few columns of a large table:
-- each index holds those columns, so the range is read from the index alone instead of
-- one table lookup per row.
DROP INDEX ci_runs_time;
CREATE INDEX ci_runs_time ON ci_runs (started_at, team, service, status, duration_s);
DROP INDEX incidents_time;
CREATE INDEX incidents_time ON incidents (opened_at, team, service, severity, resolved_at, deployment_id, resolution_hours);
DROP INDEX pr_reviews_time;
CREATE INDEX pr_reviews_time ON pr_reviews (requested_at, reviewer_team, reviewer, service, reviewed_at, wait_hours);
DROP INDEX commits_time;
CREATE INDEX commits_time ON commits (authored_at, team, service);
DROP INDEX pull_requests_merged;
CREATE INDEX pull_requests_merged ON pull_requests (merged_at, team, service);
