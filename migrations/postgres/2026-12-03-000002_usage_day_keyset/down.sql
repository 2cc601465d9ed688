DROP INDEX token_usage_day;
CREATE INDEX token_usage_day ON token_usage (day);
