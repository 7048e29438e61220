-- 004_webhook_cache.sql: tell every api process which webhook changed, so
-- its in-process cache of documents (api/doc_cache.c) drops it.
-- Released migrations are never edited.
--
-- Every row inserted, updated or deleted in webhooks, by whatever means
-- (the api, a dispatcher disabling an endpoint, plain SQL, a tenant's
-- cascaded delete), sends pg_notify('hookline_webhook', <webhook id>) when
-- its transaction commits; nothing is sent for a rolled-back change. A
-- TRUNCATE sends '*': drop everything.

CREATE OR REPLACE FUNCTION hl_webhook_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('hookline_webhook', '*');
    RETURN NULL;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM pg_notify('hookline_webhook', OLD.id);
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id) THEN
    PERFORM pg_notify('hookline_webhook', NEW.id);
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS webhooks_notify ON webhooks;
CREATE TRIGGER webhooks_notify AFTER INSERT OR UPDATE OR DELETE ON webhooks
  FOR EACH ROW EXECUTE FUNCTION hl_webhook_notify();

DROP TRIGGER IF EXISTS webhooks_notify_truncate ON webhooks;
CREATE TRIGGER webhooks_notify_truncate AFTER TRUNCATE ON webhooks
  FOR EACH STATEMENT EXECUTE FUNCTION hl_webhook_notify();
