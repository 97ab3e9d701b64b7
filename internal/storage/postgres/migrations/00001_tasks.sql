-- Tasks and their results.
--
-- Times are unix nanoseconds in bigint: the storage contract keeps instants to the
-- nanosecond, and timestamptz keeps microseconds. The zero time.Time is stored as the least
-- bigint, -9223372036854775808, so that it orders before every other time, as it does in Go.
-- Ids and keys compare byte by byte (COLLATE "C"), as the contract orders them, whatever the
-- database's collation.

-- +goose Up
CREATE TABLE tasks (
    id                    text COLLATE "C" NOT NULL PRIMARY KEY,
    owner                 text    NOT NULL,
    key_id                text    NOT NULL,
    work_emails           boolean NOT NULL,
    personal_emails       boolean NOT NULL,
    phone_numbers         boolean NOT NULL,
    start_response        bytea,
    cancellation          bytea,
    state                 integer NOT NULL,
    total_people_to_fetch integer NOT NULL,
    num_completed         integer NOT NULL,
    num_failed            integer NOT NULL,
    num_remaining         integer NOT NULL,
    num_rejected          integer NOT NULL,
    num_duplicates        integer NOT NULL,
    cursor                text    NOT NULL,
    skip                  integer NOT NULL,
    fiber_done            boolean NOT NULL,
    num_results           integer NOT NULL,
    create_time           bigint  NOT NULL,
    update_time           bigint  NOT NULL,
    finish_time           bigint  NOT NULL
);
-- ListTasks: an owner's tasks, newest first.
CREATE INDEX tasks_by_owner ON tasks (owner, create_time DESC, id DESC);
-- ListUnfinished (states 2, 3 and 4 are terminal).
CREATE INDEX tasks_unfinished ON tasks (create_time, id) WHERE state NOT IN (2, 3, 4);
-- PurgeFinished.
CREATE INDEX tasks_finished ON tasks (finish_time) WHERE state IN (2, 3, 4);

-- Results 1..num_results of a task; a page is one range scan of the primary key.
CREATE TABLE results (
    task_id text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq     integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (task_id, seq)
);
