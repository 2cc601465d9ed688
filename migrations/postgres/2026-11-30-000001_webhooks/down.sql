DROP TABLE leases;
DROP TABLE lifecycle_notices;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
