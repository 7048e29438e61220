-- 008_idempotency_in_doubt.sql: an Idempotency-Key whose publish has an
-- outcome nobody knows yet. Released migrations are never edited.
--
-- POST /v1/events waits a bounded time for Kafka. When the wait runs out,
-- the event may still be written, so the key is neither answered nor
-- freed: it stays claimed with 'in_doubt' set, and a retry with it answers
-- 409. The producer's delivery report settles it later, matched by
-- 'event_id': written, the key answers 202 with that id; certainly not
-- written, the row goes and the key is free again. Rows written before
-- this migration have no event_id and are never in doubt.

ALTER TABLE idempotency_keys
    ADD COLUMN event_id text,
    ADD COLUMN in_doubt boolean NOT NULL DEFAULT false;
