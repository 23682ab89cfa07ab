#!/usr/bin/env bash
# Back up the senstat database in pg_dump's custom format.
#
#   BACKUP_DATABASE_URL=postgresql://senstat_backup@db/senstat Deploy/backup.sh senstat-$(date +%F).dump
#
# The role must bypass row-level security (a superuser, or a role created WITH BYPASSRLS and granted SELECT):
# every table FORCEs RLS, so pg_dump as the owner would stop with "query would be affected by row-level security
# policy", and with --enable-row-security it would silently dump no tenant rows at all.
set -euo pipefail
out=${1:?usage: backup.sh OUT.dump}
url=${BACKUP_DATABASE_URL:?set BACKUP_DATABASE_URL to a role that bypasses row-level security}
pg_dump --format=custom --compress=6 --file="$out" "$url"
pg_restore --list "$out" > /dev/null   # the archive reads back
echo "backed up to $out ($(du -h "$out" | cut -f1))"
