-- An index for every access path a tool takes into a table that grows with the history
-- (tests/it/stores/plans.rs fails on a full scan); the covering ones let the DORA
-- aggregates read deployments, changes and incidents without their rows.
DROP INDEX pull_requests_deployment;
CREATE INDEX pull_requests_deployment ON pull_requests (deployment_id, first_commit_at);
DROP INDEX incidents_deployment;
CREATE INDEX incidents_deployment ON incidents (deployment_id, resolved_at);
CREATE INDEX deployments_shipped ON deployments (environment, status, finished_at, team, service);
CREATE INDEX incidents_open ON incidents (resolved_at);
CREATE INDEX pr_reviews_time ON pr_reviews (requested_at);
CREATE INDEX pr_reviews_pending ON pr_reviews (reviewed_at, reviewer_id);
CREATE INDEX pull_requests_merged ON pull_requests (merged_at);
CREATE INDEX commits_time ON commits (authored_at);
CREATE INDEX time_off_dates ON time_off (ends_on, starts_on, employee_id, kind);
CREATE INDEX tickets_status ON tickets (status, created_at);
