#!/bin/sh
# Entry point of the IBR image: create or migrate the schema, then run the command (default
# `ibr serve ...`). A database that is not reachable yet is retried for a minute, so the
# container can start together with PostgreSQL (compose.yaml).
set -eu
tries=0
until ibr db upgrade; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "start: the database stayed unreachable; check IBR_DATABASE_URL" >&2
    exit 1
  fi
  sleep 2
done
exec "$@"
