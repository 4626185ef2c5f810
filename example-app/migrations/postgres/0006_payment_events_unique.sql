CREATE UNIQUE INDEX payment_events_webhook_id ON payment_events (webhook_id);
