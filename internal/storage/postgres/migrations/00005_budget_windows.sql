-- The Fiber budget the replicas share: one row per API key (by id, never the key) and
-- endpoint, holding the state of its sliding window as internal/budget encodes it (the log of
-- its recent departures, its 429 pause). Rows are locked one at a time (SELECT ... FOR UPDATE)
-- by short transactions, and times in them are the database's clock.

-- +goose Up
CREATE TABLE budget_windows (
    key_id   text COLLATE "C" NOT NULL,
    endpoint text COLLATE "C" NOT NULL,
    state    bytea NOT NULL,
    PRIMARY KEY (key_id, endpoint)
);
