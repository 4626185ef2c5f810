CREATE TABLE payment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    order_id INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    received_at INTEGER NOT NULL
);
