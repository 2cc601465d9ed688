-- Usage retention deletes old days in batches, each after the last one's final row: the
-- index on day alone could not give the rows of one day in an order to continue from.
DROP INDEX token_usage_day;
CREATE INDEX token_usage_day ON token_usage (day, token_id);
