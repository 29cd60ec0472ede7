-- The window's changes in lead-time order: the organisation's median lead time over a long
-- window is read by walking this index to the middle instead of sorting the window.
CREATE INDEX pull_requests_lead ON pull_requests (lead_seconds, deployed_at);
