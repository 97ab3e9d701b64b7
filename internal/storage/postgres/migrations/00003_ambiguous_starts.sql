-- Starts an operator must reconcile with Fiber. Times as in 00001_tasks.sql.

-- +goose Up
CREATE TABLE ambiguous_starts (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    time        bigint NOT NULL,
    kind        text   NOT NULL,
    owner       text   NOT NULL,
    key_id      text   NOT NULL,
    request_key text   NOT NULL,
    urls        text[] NOT NULL,
    task_id     text   NOT NULL,
    response    bytea,
    error       text   NOT NULL
);
-- ListAmbiguousStarts and PurgeFinished.
CREATE INDEX ambiguous_starts_by_time ON ambiguous_starts (time, id);
