-- run once by the entrypoint on the first start
CREATE ROLE n8n LOGIN PASSWORD 'smoke-n8n-db-password';
CREATE DATABASE n8n OWNER n8n;
