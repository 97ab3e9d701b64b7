-- Records of idempotent requests. Times as in 00001_tasks.sql.

-- +goose Up
CREATE TABLE requests (
    key          text COLLATE "C" NOT NULL PRIMARY KEY,
    payload_hash text    NOT NULL,
    state        integer NOT NULL,
    response     bytea,
    create_time  bigint  NOT NULL,
    expire_time  bigint  NOT NULL
);
-- PurgeRequests.
CREATE INDEX requests_by_expiry ON requests (expire_time);
