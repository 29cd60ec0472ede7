-- Who worked with whom on the code: commits co-authored, files changed close together
-- (docs/DATA.md, `collaborations`); one row per direction.
CREATE TABLE collaborations (
  employee_id INTEGER NOT NULL, employee TEXT NOT NULL, team TEXT NOT NULL,
  other_id INTEGER NOT NULL, other TEXT NOT NULL, other_team TEXT NOT NULL,
  kind TEXT NOT NULL, weight INTEGER NOT NULL, last_at TEXT NOT NULL,
  PRIMARY KEY (employee_id, other_id, kind)
);
CREATE INDEX collaborations_employee ON collaborations (employee, kind);
