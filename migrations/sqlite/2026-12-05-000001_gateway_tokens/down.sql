DROP TRIGGER gateway_tokens_product_update;
DROP TRIGGER gateway_tokens_product_delete;
DROP TRIGGER gateway_tokens_product_insert;
DROP TRIGGER gateway_tokens_delete;
DROP TRIGGER gateway_tokens_update;
DROP TRIGGER gateway_tokens_insert;
DROP VIEW gateway_token_rows;
DROP TABLE gateway_tokens;
