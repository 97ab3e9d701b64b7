-- Idempotent requests across replicas: the replica sending a pending request (owner) and
-- until when its lease runs (lease_expiry, unix nanoseconds of the database's clock). A
-- record from before has no owner and the zero time (the least bigint, as in
-- 00001_tasks.sql): its lease has run out.

-- +goose Up
ALTER TABLE requests
    ADD COLUMN owner        text   NOT NULL DEFAULT '',
    ADD COLUMN lease_expiry bigint NOT NULL DEFAULT -9223372036854775808;
