-- The Graph documents of requests and assignments are written whole by the worker and read
-- whole by the API and the worker's view; nothing queries inside them. jsonb parsed every
-- document into its binary form on the way in (≈ 17 µs of PostgreSQL CPU for a request's
-- 1.3 KB, ≈ 10 µs for an assignment's, on the hot path of every request) and sorted its keys
-- by length, so GET answered in jsonb's key order rather than Graph's. json checks the text
-- is JSON (≈ 4 µs) and keeps it as rendered. Approvals, reasons, timer payloads and the
-- catalog stay jsonb: SQL reads inside approvals, the rest are small or rarely written.
-- (A type change rewrites both tables: on a large deployment, run it in a quiet hour.)
ALTER TABLE assignment_requests ALTER COLUMN document TYPE json USING document::json;
ALTER TABLE assignments ALTER COLUMN document TYPE json USING document::json;
