-- Roles senstat expects on a PostgreSQL you run yourself (the embedded cluster creates the same ones).
-- Run once as a superuser (or a role with CREATEROLE), then set the passwords you use in DATABASE_URL and
-- DATABASE_OWNER_URL:
--   psql -v ON_ERROR_STOP=1 -f Deploy/roles.sql
--
-- senstat_owner runs the migrations and owns every table. senstat_app is the server's role: it owns nothing,
-- is no superuser and has no BYPASSRLS, so row-level security applies to every query it runs.
CREATE ROLE senstat_owner LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS;
CREATE ROLE senstat_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
CREATE DATABASE senstat OWNER senstat_owner;
REVOKE ALL ON DATABASE senstat FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE senstat TO senstat_app;
-- ALTER ROLE senstat_owner PASSWORD '...';  ALTER ROLE senstat_app PASSWORD '...';
