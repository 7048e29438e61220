-- 012_operational_events.sql: events hookline itself produces about a
-- tenant's webhooks, delivered to that tenant like any other event.
-- Released migrations are never edited.
--
-- The four types sit in the catalog in the group 'operational' (the
-- dispatcher matches them by their full name or that group only, never by
-- their prefix: subscribing to "webhook" still means webhook.test alone).
--
-- The dispatcher produces them in the transaction that records what caused
-- them (dispatcher/ops_events.c): an outbox row of kind 'event' whose
-- payload is the whole envelope, which the api's relay publishes to
-- hookline.events keyed by the tenant (api/outbox_relay.c). So one is never
-- lost (no record, no event; a crash before the commit leaves the cause to
-- be delivered again), never multiplied by a crash beyond the relay's at
-- least once (the state below says what was produced), and the tenant is
-- always the one that owns the webhook in 'webhooks'.
--
-- Event ids are derived from what they report (sha256 of type, subject and
-- moment), so a cause recorded twice (a crash between the record and the
-- Kafka commit) produces the same webhook-id, which receivers dedupe on.

INSERT INTO event_types (name, description, group_name) VALUES
 ('webhook.disabled', 'hookline disabled one of your webhooks: an endpoint answered 410 Gone, or every delivery to it failed for too long.', 'operational'),
 ('endpoint.failing', 'Deliveries to an endpoint of one of your webhooks started failing (at most one of these an hour per endpoint).', 'operational'),
 ('endpoint.recovered', 'An endpoint reported as failing accepted a delivery again.', 'operational'),
 ('delivery.exhausted', 'A delivery failed for good: its retries are used up.', 'operational')
ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, group_name = EXCLUDED.group_name;

-- What the dispatcher told the tenant about an endpoint:
-- noticed_failing_since: the failing_since of the failure period an
--   endpoint.failing was produced for (NULL: none stands, so no
--   endpoint.recovered is due);
-- failing_noticed_at: when the last endpoint.failing was produced (at most
--   one per HOOKLINE_FAILING_NOTICE_EVERY, 1 h by default).
ALTER TABLE endpoint_health
    ADD COLUMN noticed_failing_since timestamptz,
    ADD COLUMN failing_noticed_at timestamptz;

-- The id of an operational event about 'subject' (type, subject and moment
-- joined by ':').
CREATE FUNCTION hl_ops_event_id(subject text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT 'evt_' || left(encode(sha256(convert_to(subject, 'UTF8')), 'hex'), 40) $$;

-- Append operational event 'ev_type' with id 'ev_id' about webhook 'wid',
-- for the tenant that owns it; 'ev_data' is merged after webhook_id and
-- webhook_name. Nothing when the webhook is gone. Call it in the
-- transaction that recorded the cause.
CREATE FUNCTION hl_ops_event(wid text, ev_type text, ev_id text, ev_data jsonb) RETURNS void LANGUAGE sql AS $$
  INSERT INTO outbox (webhook_id, tenant_id, kind, payload)
  SELECT w.id, w.tenant_id, 'event',
         jsonb_build_object('id', ev_id, 'type', ev_type, 'tenant', w.tenant_id, 'occurred_at', hl_ts(now()),
                            'data', jsonb_build_object('webhook_id', w.id, 'webhook_name', w.name) || ev_data)
  FROM webhooks w WHERE w.id = wid
$$;
