-- What a token may pull follows the subscription live: its products that the subscription
-- still has, until the project's current end date. The token's own copy of the end date goes,
-- and products the subscription no longer has leave the tokens (a product added back waits
-- for a re-sync, like any product added).
DELETE FROM token_products
WHERE NOT EXISTS (
    SELECT 1 FROM tokens t
    JOIN subscription_products sp ON sp.project_id = t.project_id
    WHERE t.id = token_products.token_id AND sp.product_code = token_products.product_code
);
ALTER TABLE tokens DROP COLUMN subscription_end_date;
