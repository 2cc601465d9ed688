-- SQLite only: each serving process' own count of its write transactions, bumped in the same
-- transaction as write_gate, so that a watcher reads, in one snapshot, how many commits were
-- another process' (write_gate's count minus its own row), with nothing in flight to guess.
CREATE TABLE node_writes (
    node TEXT PRIMARY KEY NOT NULL,
    writes BIGINT NOT NULL
);
