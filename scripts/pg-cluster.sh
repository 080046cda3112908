#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throw-away PostgreSQL cluster for the tests, on 127.0.0.1 only:
#   pg-cluster.sh start DIR PORT   makes (first time) and starts a cluster in DIR on PORT, with
#                                  database dfdg owned by role dfdg, and prints its libpq
#                                  conninfo ("host=127.0.0.1 port=PORT dbname=dfdg user=dfdg");
#   pg-cluster.sh stop DIR         stops it (pg_ctl stop -m fast) and prints one line.
# Both are idempotent: start on a running cluster only checks it, stop on a stopped or missing
# one does nothing. PostgreSQL comes from Debian's packages (scripts/install-deps.sh) when it is
# missing. The server never runs as root: as root the cluster belongs to DFDG_PG_USER (default
# dfdgpg, made as a system user when missing), otherwise to the caller. Authentication is
# "trust", so the cluster listens on loopback TCP and on a socket in DIR that only its owner
# can open. Durability is switched off (fsync, synchronous_commit): the data is thrown away.
set -euo pipefail

me=pg-cluster
die() {
  echo "$me: $*" >&2
  exit 1
}
usage() { die "usage: $0 start DIR PORT | stop DIR"; }

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
case "$cmd" in
  start) [ $# -eq 3 ] || usage ;;
  stop) [ $# -eq 2 ] || usage ;;
  *) usage ;;
esac
case "$dir" in
  /*) ;;
  *) dir="$PWD/$dir" ;;
esac
data="$dir/data"
sock="$dir/sock"
log="$dir/server.log"

# The server's binaries: Debian keeps them out of PATH, one folder per major version.
find_bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    echo "$d"
  fi
}

# Runs a command as the cluster's owner, from DIR (the caller's folder may be closed to it).
as_owner() {
  if [ -n "$runas" ]; then
    (cd "$dir" && runuser -u "$runas" -- "$@")
  else
    (cd "$dir" && "$@")
  fi
}

runas=""
if [ "$(id -u)" -eq 0 ]; then
  runas=${DFDG_PG_USER:-dfdgpg}
fi

running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

if [ "$cmd" = stop ]; then
  bindir=$(find_bindir)
  if [ -z "$bindir" ] || [ ! -f "$data/PG_VERSION" ]; then
    echo "$me: no cluster in $dir, nothing to stop"
    exit 0
  fi
  if [ -n "$runas" ] && ! id -u "$runas" >/dev/null 2>&1; then
    die "user $runas does not exist"
  fi
  if ! running; then
    echo "$me: $dir already stopped"
    exit 0
  fi
  as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ||
    die "could not stop the cluster in $dir (see $log)"
  echo "$me: stopped $dir"
  exit 0
fi

# --- start -----------------------------------------------------------------------------------
port=$3
case "$port" in
  '' | *[!0-9]*) die "PORT must be a number, not '$port'" ;;
esac
if [ "$port" -lt 1024 ] || [ "$port" -gt 65535 ]; then
  die "PORT must be 1024..65535, not $port"
fi
# The socket path (DIR/sock/.s.PGSQL.PORT) must fit in sun_path (107 bytes).
[ ${#sock} -le 80 ] || die "DIR is too long for a socket path: $dir"

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  bash "$(dirname "$0")/install-deps.sh" postgresql >&2
  bindir=$(find_bindir)
  [ -n "$bindir" ] || die "postgresql is installed but no /usr/lib/postgresql/*/bin/initdb"
fi

if [ -n "$runas" ] && ! id -u "$runas" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin "$runas" || die "could not create user $runas"
fi

mkdir -p "$dir"
if [ -n "$runas" ]; then
  chown "$runas:" "$dir"
fi
chmod 0700 "$dir"
as_owner test -w "$dir" ||
  die "${runas:-$(id -un)} cannot write $dir (is a parent folder closed to it?)"

if [ ! -f "$data/PG_VERSION" ]; then
  superuser=${runas:-$(id -un)}
  as_owner mkdir -p "$sock"
  as_owner "$bindir/initdb" -D "$data" -U "$superuser" --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    die "initdb failed (see $dir/initdb.log)"
  # Loopback only: TCP on 127.0.0.1 and the private socket; everything else is refused.
  as_owner tee "$data/pg_hba.conf" >/dev/null <<EOF
# dfdg throw-away test cluster (scripts/pg-cluster.sh): loopback only, no passwords.
local all all              trust
host  all all 127.0.0.1/32 trust
EOF
  as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- scripts/pg-cluster.sh ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
unix_socket_permissions = 0700
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
EOF
fi

configured=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$data/postgresql.conf" | tail -n 1)
[ "$configured" = "$port" ] ||
  die "the cluster in $dir is set up for port $configured, not $port"

if ! running; then
  as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1 || {
    tail -n 20 "$log" >&2 || true
    die "could not start the cluster in $dir on port $port"
  }
fi

# Ready for connections (pg_ctl -w waits too; this also covers an already running server).
ready=0
for _ in $(seq 1 60); do
  if as_owner "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
    ready=1
    break
  fi
  sleep 0.5
done
[ "$ready" = 1 ] || die "the cluster in $dir does not answer on 127.0.0.1:$port"

psql_su() {
  as_owner "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" \
    -U "${runas:-$(id -un)}" -d postgres -tA "$@"
}
if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = 'dfdg'")" != 1 ]; then
  psql_su -c "CREATE ROLE dfdg LOGIN" >/dev/null || die "could not create role dfdg"
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = 'dfdg'")" != 1 ]; then
  psql_su -c "CREATE DATABASE dfdg OWNER dfdg" >/dev/null || die "could not create database dfdg"
fi
echo "host=127.0.0.1 port=$port dbname=dfdg user=dfdg"
