-- Runs once, when the postgresql service initialises an empty data volume (the official image
-- runs /docker-entrypoint-initdb.d/*.sql as POSTGRES_USER). Temporal creates its own databases
-- (temporal, temporal_visibility) at start-up; this adds hookline's.
CREATE DATABASE hookline;
