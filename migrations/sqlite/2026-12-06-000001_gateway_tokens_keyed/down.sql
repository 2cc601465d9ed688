-- Back to gateway_tokens keyed by the digest's text (the previous migration's table).
DROP TRIGGER gateway_tokens_product_update;
DROP TRIGGER gateway_tokens_product_delete;
DROP TRIGGER gateway_tokens_product_insert;
DROP TRIGGER gateway_tokens_delete;
DROP TRIGGER gateway_tokens_update;
DROP TRIGGER gateway_tokens_insert;
DROP VIEW gateway_token_rows;
DROP TABLE gateway_tokens;

CREATE TABLE gateway_tokens (
    digest TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    registry_username TEXT NOT NULL,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- When the current secret was issued: re-generated, or else created.
    issued_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    expires_on DATE,
    products TEXT NOT NULL
) WITHOUT ROWID;

-- A token's row of gateway_tokens as its tables say it now: the one place that says how, for
-- the fill below and the triggers.
CREATE VIEW gateway_token_rows AS
SELECT t.secret_digest AS digest, t.id AS token_id, t.registry_username, t.project_id, t.kind,
    coalesce(t.secret_regenerated_at, t.created_at) AS issued_at, t.revoked_at, t.expires_on,
    ' ' || coalesce((SELECT group_concat(p.product_code, ' ') FROM token_products p WHERE p.token_id = t.id), '') || ' '
        AS products
FROM tokens t;

INSERT INTO gateway_tokens SELECT * FROM gateway_token_rows;

CREATE TRIGGER gateway_tokens_insert AFTER INSERT ON tokens BEGIN
    INSERT INTO gateway_tokens SELECT * FROM gateway_token_rows WHERE token_id = new.id;
END;

CREATE TRIGGER gateway_tokens_update AFTER UPDATE OF secret_digest, id, registry_username, project_id, kind,
    created_at, secret_regenerated_at, revoked_at, expires_on ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE digest = old.secret_digest;
    INSERT INTO gateway_tokens SELECT * FROM gateway_token_rows WHERE token_id = new.id;
END;

CREATE TRIGGER gateway_tokens_delete AFTER DELETE ON tokens BEGIN
    DELETE FROM gateway_tokens WHERE digest = old.secret_digest;
END;

CREATE TRIGGER gateway_tokens_product_insert AFTER INSERT ON token_products BEGIN
    UPDATE gateway_tokens SET products = products || new.product_code || ' '
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = new.token_id);
END;

CREATE TRIGGER gateway_tokens_product_delete AFTER DELETE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = old.token_id);
END;

CREATE TRIGGER gateway_tokens_product_update AFTER UPDATE ON token_products BEGIN
    UPDATE gateway_tokens SET products = replace(products, ' ' || old.product_code || ' ', ' ')
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = old.token_id);
    UPDATE gateway_tokens SET products = products || new.product_code || ' '
    WHERE digest = (SELECT secret_digest FROM tokens WHERE id = new.token_id);
END;
