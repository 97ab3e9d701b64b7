-- What replicas share beside tasks: the replica sending a pending idempotent request, and
-- the turns of the periodic purges. Times are unix nanoseconds of the database's clock.
--
-- requests.owner names the replica sending a pending request; lease_expiry is until when
-- its lease runs. A record from before has no owner and the zero time (the least bigint, as
-- in 00001_tasks.sql): its lease has run out.
--
-- purge_runs holds, per purge, when a replica last took its turn to run it.

-- +goose Up
ALTER TABLE requests
    ADD COLUMN owner        text   NOT NULL DEFAULT '',
    ADD COLUMN lease_expiry bigint NOT NULL DEFAULT -9223372036854775808;

CREATE TABLE purge_runs (
    name     text COLLATE "C" NOT NULL PRIMARY KEY,
    last_run bigint NOT NULL
);
