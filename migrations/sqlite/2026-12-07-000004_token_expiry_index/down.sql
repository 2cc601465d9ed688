DROP INDEX tokens_expires_on;
