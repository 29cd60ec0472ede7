-- A change as DORA counts it: a pull request shipped by a successful production
-- deployment, with that deployment's finish and its lead time in seconds denormalised, so
-- that the lead-time aggregates read one index range instead of joining every change of the
-- window to its deployment. Loads fill the columns; this fills them for data loaded before.
ALTER TABLE pull_requests ADD COLUMN deployed_at TEXT;
ALTER TABLE pull_requests ADD COLUMN lead_seconds INTEGER;
UPDATE pull_requests SET deployed_at = d.finished_at,
  lead_seconds = unixepoch(d.finished_at) - unixepoch(pull_requests.first_commit_at)
  FROM deployments d
  WHERE d.id = pull_requests.deployment_id AND d.environment = 'production' AND d.status = 'success';
CREATE INDEX pull_requests_shipped ON pull_requests (deployed_at, service_team, service, lead_seconds);
-- DORA's deployment days read every production deployment of the window, failed or not.
DROP INDEX deployments_time;
CREATE INDEX deployments_time ON deployments (environment, finished_at, status, team, service);
