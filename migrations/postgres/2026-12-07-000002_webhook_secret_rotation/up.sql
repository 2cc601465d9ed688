-- A webhook's signing secret can be rotated with an overlap: until previous_secret_until, every
-- delivery carries a signature with the previous secret beside one with the current
-- (Standard Webhooks allows several). Both are sealed (AES-256-GCM, see the store's sealing
-- module); a node seals any secret still in clear when it starts.
ALTER TABLE webhooks ADD COLUMN previous_signing_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_until TIMESTAMP;
