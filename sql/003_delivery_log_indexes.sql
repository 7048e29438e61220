-- 003_delivery_log_indexes.sql: indexes for the delivery log's filters.
-- Released migrations are never edited.
--
-- GET /v1/webhooks/{id}/deliveries reads newest first within one webhook
-- (attempts_webhook_sent, 002); these two serve its most common filters,
-- one event type and failures only, without walking the webhook's whole
-- history. The retention job deletes through attempts_sent_at (002),
-- outbox_sent_at and idempotency_keys_created (001).
--
-- IF NOT EXISTS: on a large attempts table an operator may build them
-- beforehand with CREATE INDEX CONCURRENTLY (README, "Upgrades and
-- migrations"); this file then only records the migration.

CREATE INDEX IF NOT EXISTS attempts_webhook_type_sent
    ON attempts (webhook_id, event_type, sent_at DESC, id DESC);

CREATE INDEX IF NOT EXISTS attempts_webhook_failed_sent
    ON attempts (webhook_id, sent_at DESC, id DESC) WHERE NOT success;
