-- Back to the key computed by the triggers (the migration before's view and triggers).
DROP TRIGGER gateway_tokens_product_update;
DROP TRIGGER gateway_tokens_product_delete;
DROP TRIGGER gateway_tokens_product_insert;
DROP TRIGGER gateway_tokens_delete;
DROP TRIGGER gateway_tokens_update;
DROP TRIGGER gateway_tokens_insert;
DROP VIEW gateway_token_rows;

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

ALTER TABLE tokens DROP COLUMN secret_key;
