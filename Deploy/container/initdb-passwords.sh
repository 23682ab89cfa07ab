#!/bin/sh
# Run by the postgres image once, after 10-roles.sql (Deploy/roles.sql), on an empty data folder.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres \
  -v owner="$SENSTAT_OWNER_PASSWORD" -v app="$SENSTAT_APP_PASSWORD" <<'SQL'
ALTER ROLE senstat_owner PASSWORD :'owner';
ALTER ROLE senstat_app PASSWORD :'app';
SQL
