-- SQLite only: gateway_tokens keyed by a number, the first 60 bits of the secret's digest, as
-- the table's rowid. Keyed by the digest's 64 characters of text, the B-tree's interior pages
-- took 4.5 MB for a million tokens, more than a connection's page cache keeps beside the
-- leaves it reads: a cache miss read 1.9 pages from the file, and compared texts on the way
-- down. Keyed by a number they take under 1 MB, and a miss reads its leaf. The digest itself
-- is compared as well: a token is found only by its whole digest.
--
-- Two digests that share their first 60 bits (about one chance in 10^6 among a million
-- tokens) cannot both have a row: the second is left out (`OR IGNORE`), and a digest that the
-- table does not hold is looked for in tokens (by its whole digest), so that such a token
-- still works, only slower. Times are microseconds since the epoch (the stored text parsed
-- once here, not at every miss). The triggers find a token's row by its id (an index). They
-- run in whichever SQLite library writes tokens (the sqlite3 shell of an operator's
-- distribution too), so they call only functions that SQLite has had for years: no `unhex`
-- (3.41), no `unixepoch` (3.38).
-- A later migration that rebuilds tokens or token_products must drop these triggers and the
-- view first.
DROP TRIGGER gateway_tokens_product_update;
DROP TRIGGER gateway_tokens_product_delete;
DROP TRIGGER gateway_tokens_product_insert;
DROP TRIGGER gateway_tokens_delete;
DROP TRIGGER gateway_tokens_update;
DROP TRIGGER gateway_tokens_insert;
DROP VIEW gateway_token_rows;
DROP TABLE gateway_tokens;

CREATE TABLE gateway_tokens (
    -- The digest's first 15 hexadecimal digits, as a number.
    key INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    token_id TEXT NOT NULL,
    registry_username TEXT NOT NULL,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- When the current secret was issued (re-generated, or else created), in microseconds
    -- since the epoch; revoked likewise.
    issued_at INTEGER NOT NULL,
    revoked_at INTEGER,
    expires_on DATE,
    -- ` code code `: the token's products (codes hold no spaces).
    products TEXT NOT NULL
);
CREATE INDEX gateway_tokens_token ON gateway_tokens (token_id);

-- A token's row of gateway_tokens as its tables say it now: the one place that says how, for
-- the fill below and the triggers.
CREATE VIEW gateway_token_rows AS
SELECT
    ((instr('0123456789abcdef', substr(t.secret_digest, 1, 1)) - 1) << 56) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 2, 1)) - 1) << 52) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 3, 1)) - 1) << 48) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 4, 1)) - 1) << 44) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 5, 1)) - 1) << 40) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 6, 1)) - 1) << 36) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 7, 1)) - 1) << 32) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 8, 1)) - 1) << 28) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 9, 1)) - 1) << 24) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 10, 1)) - 1) << 20) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 11, 1)) - 1) << 16) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 12, 1)) - 1) << 12) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 13, 1)) - 1) << 8) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 14, 1)) - 1) << 4) |
    ((instr('0123456789abcdef', substr(t.secret_digest, 15, 1)) - 1) << 0) AS key,
    t.secret_digest AS digest, t.id AS token_id, t.registry_username, t.project_id, t.kind,
    CAST(strftime('%s', substr(coalesce(t.secret_regenerated_at, t.created_at), 1, 19)) AS INTEGER) * 1000000 + CAST(substr(substr(coalesce(t.secret_regenerated_at, t.created_at), 21) || '000000', 1, 6) AS INTEGER) AS issued_at,
    CAST(strftime('%s', substr(t.revoked_at, 1, 19)) AS INTEGER) * 1000000 + CAST(substr(substr(t.revoked_at, 21) || '000000', 1, 6) AS INTEGER) AS revoked_at,
    t.expires_on,
    ' ' || coalesce((SELECT group_concat(p.product_code, ' ') FROM token_products p WHERE p.token_id = t.id), '') || ' '
        AS products
FROM tokens t;

INSERT OR IGNORE INTO gateway_tokens SELECT * FROM gateway_token_rows ORDER BY key;

CREATE TRIGGER gateway_tokens_insert AFTER INSERT ON tokens BEGIN
    INSERT OR IGNORE INTO gateway_tokens SELECT * FROM gateway_token_rows WHERE token_id = new.id;
END;

CREATE TRIGGER gateway_tokens_update AFTER UPDATE OF secret_digest, id, registry_username, project_id, kind,
    created_at, secret_regenerated_at, revoked_at, expires_on ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE token_id = old.id;
    INSERT OR IGNORE INTO gateway_tokens SELECT * FROM gateway_token_rows WHERE token_id = new.id;
END;

CREATE TRIGGER gateway_tokens_delete AFTER DELETE ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE token_id = old.id;
END;

CREATE TRIGGER gateway_tokens_product_insert AFTER INSERT ON token_products BEGIN
    UPDATE gateway_tokens SET products = products || new.product_code || ' ' WHERE token_id = new.token_id;
END;

CREATE TRIGGER gateway_tokens_product_delete AFTER DELETE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE token_id = old.token_id;
END;

CREATE TRIGGER gateway_tokens_product_update AFTER UPDATE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE token_id = old.token_id;
    UPDATE gateway_tokens SET products = products || new.product_code || ' ' WHERE token_id = new.token_id;
END;
