-- The organisation's production deployments and the changes they shipped, per UTC day:
-- the whole organisation's DORA reads the whole days of its window here, a row a day, and
-- only the partial days at its two ends from the events. Loads write it; this fills it for
-- data loaded before.
CREATE TABLE delivery_days (day TEXT PRIMARY KEY, ok INTEGER NOT NULL, failed INTEGER NOT NULL, changes INTEGER NOT NULL);
INSERT INTO delivery_days (day, ok, failed, changes)
SELECT day, SUM(ok), SUM(failed), SUM(changes) FROM (
  SELECT substring(finished_at, 1, 10) AS day,
    CASE WHEN status = 'success' THEN 1 ELSE 0 END AS ok,
    CASE WHEN status = 'success' THEN 0 ELSE 1 END AS failed, 0 AS changes
  FROM deployments WHERE environment = 'production'
  UNION ALL
  SELECT substring(deployed_at, 1, 10), 0, 0, 1 FROM pull_requests WHERE deployed_at IS NOT NULL
) e GROUP BY day;
