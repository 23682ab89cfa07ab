#!/usr/bin/env bash
# Restore a backup made by Deploy/backup.sh into an empty database (roles from Deploy/roles.sql must exist).
#
#   RESTORE_DATABASE_URL=postgresql://postgres@db/senstat_restored Deploy/restore.sh senstat-2026-11-29.dump
#
# Run as a superuser: the archive recreates tables owned by senstat_owner, their policies and their grants.
set -euo pipefail
file=${1:?usage: restore.sh FILE.dump}
url=${RESTORE_DATABASE_URL:?set RESTORE_DATABASE_URL to the empty target database, as a superuser}
pg_restore --exit-on-error --single-transaction --dbname="$url" "$file"
echo "restored $file"
