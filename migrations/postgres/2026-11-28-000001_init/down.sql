DROP TABLE audit_events;
DROP TABLE token_products;
DROP TABLE tokens;
DROP TABLE service_users;
DROP TABLE users;
DROP TABLE subscription_products;
DROP TABLE products;
DROP TABLE projects;
