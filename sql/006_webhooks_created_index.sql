-- 006: the dispatchers' index sync reads the webhooks created in the last
-- moments (dispatcher/sub_index.c, sub_index_sync_created) several times a
-- second; without this it would scan the whole table each time.
CREATE INDEX IF NOT EXISTS webhooks_created_at ON webhooks (created_at);
