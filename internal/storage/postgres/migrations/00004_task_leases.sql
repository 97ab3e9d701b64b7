-- Task leases: the replica that polls a task (lease_owner, '' for none) and until when
-- (lease_expiry, unix nanoseconds of the database's clock; 0 for none). A lease is live while
-- lease_expiry is after the database's clock; replicas claim the others.

-- +goose Up
ALTER TABLE tasks
    ADD COLUMN lease_owner  text   NOT NULL DEFAULT '',
    ADD COLUMN lease_expiry bigint NOT NULL DEFAULT 0;
-- ClaimTasks: the unfinished tasks whose lease has run out.
CREATE INDEX tasks_claimable ON tasks (lease_expiry) WHERE state NOT IN (2, 3, 4);
