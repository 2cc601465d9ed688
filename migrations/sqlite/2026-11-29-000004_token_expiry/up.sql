-- A token's own last day, at most its subscription's: it ends then, whatever the subscription.
ALTER TABLE tokens ADD COLUMN expires_on DATE;
