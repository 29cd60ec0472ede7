-- An incident caused by a successful production deployment carries that deployment's finish
-- (DORA's change failure rate and recovery time count the incidents of the window's
-- deployments), so those two read the window's incidents alone instead of joining every
-- deployment of the window to its incidents. Loads fill it; this fills it for data loaded
-- before. An incident's service and team are its deployment's.
ALTER TABLE incidents ADD COLUMN deployed_at TEXT;
UPDATE incidents SET deployed_at = d.finished_at
  FROM deployments d
  WHERE d.id = incidents.deployment_id AND d.environment = 'production' AND d.status = 'success';
CREATE INDEX incidents_caused ON incidents (deployed_at, team, service, resolved_at, deployment_id);
