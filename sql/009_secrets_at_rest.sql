-- 009_secrets_at_rest.sql: webhook secrets and header values are sealed at
-- rest. Released migrations are never edited.
--
-- From this release on, webhooks.secret, webhooks.previous_secret, every
-- value of webhooks.headers and of each endpoint's headers in
-- webhooks.endpoints, and the same fields of the webhook documents in
-- outbox.payload (and so in the lifecycle events on hookline.webhooks) are
-- sealed by the services with AES-256-GCM under a key of
-- HOOKLINE_SECRETS_KEY (common/secretbox.h, common/webhook_seal.h):
--
--   hlenc:v1:<key id>:<base64(nonce | ciphertext | tag)>
--
-- SQL does not hold the key, so this migration changes no value. Every
-- reader takes a value that does not start with 'hlenc:' as a plain one of
-- the previous release; the api seals those it finds when it starts, and
-- `hookline-api rotate-secrets-key` seals whatever is left. These two
-- partial indexes hold exactly the rows that still carry a plain value, so
-- the api finds them at every start without reading the whole tables; once
-- they are sealed the indexes stay empty. The api's queries repeat these
-- predicates word for word (api/secrets_rekey.c), so that they use them.
--
-- IF NOT EXISTS: on a large outbox an operator may build them beforehand
-- with CREATE INDEX CONCURRENTLY (README, "Upgrades and migrations").

CREATE INDEX IF NOT EXISTS webhooks_plain_secrets ON webhooks (id)
    WHERE secret NOT LIKE 'hlenc:%'
       OR previous_secret NOT LIKE 'hlenc:%'
       OR jsonb_path_exists(headers, '$.* ? (!(@ starts with "hlenc:"))')
       OR jsonb_path_exists(endpoints, '$[*].headers.* ? (!(@ starts with "hlenc:"))');

CREATE INDEX IF NOT EXISTS outbox_plain_secrets ON outbox (seq)
    WHERE jsonb_path_exists(payload, '$.webhook.secret ? (!(@ starts with "hlenc:"))')
       OR jsonb_path_exists(payload, '$.webhook.previous_secret ? (!(@ starts with "hlenc:"))')
       OR jsonb_path_exists(payload, '$.webhook.headers.* ? (!(@ starts with "hlenc:"))')
       OR jsonb_path_exists(payload, '$.webhook.endpoints[*].headers.* ? (!(@ starts with "hlenc:"))');

COMMENT ON COLUMN webhooks.secret IS
    'sealed: hlenc:v1:<key id>:<base64(nonce|ciphertext|tag)>; plain only if written before 006';
COMMENT ON COLUMN webhooks.previous_secret IS 'sealed like secret';
COMMENT ON COLUMN webhooks.headers IS 'name -> value, each value sealed like secret';
COMMENT ON COLUMN webhooks.endpoints IS '[{"id","url","headers":{name -> value sealed like secret}}]';
