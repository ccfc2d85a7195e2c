#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the server's tests (Debian's postgresql package): initdb into a temp
# directory, trust auth on 127.0.0.1 only, a free port. Idempotent: a running cluster is reused.
#   bash .ci/postgres.sh start    → prints the connection URL (export it as ROBUSTIFY_TEST_PG_URL)
#   bash .ci/postgres.sh restart  → fast restart of the same cluster (the fault test)
#   bash .ci/postgres.sh stop     → fast stop; a later start brings it back on the same port
set -euo pipefail
DIR=${ROBUSTIFY_PG_DIR:-/tmp/robustify-test-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "postgres.sh: Debian's postgresql is not installed (apt-get install postgresql)" >&2; exit 1; }
# initdb and postgres refuse to run as root: run them as the postgres user the package creates.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
ctl() { as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -t 60 "$@" >/dev/null; }
url() { echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres"; }

case "${1:-start}" in
  start)
    if [ -f "$DIR/port" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then url; exit 0; fi
    if [ ! -f "$DIR/data/PG_VERSION" ]; then
      rm -rf "$DIR" && mkdir -p "$DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$DIR"
      as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    # A stopped cluster starts again on its old port, so a server's URL stays valid across stop/start.
    if [ -f "$DIR/port" ]; then port=$(cat "$DIR/port"); else
      port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
      as_pg sh -c "echo $port > '$DIR/port'"
    fi
    ctl -o "-p $port -c listen_addresses=127.0.0.1 -k $DIR -c fsync=on" start
    url
    ;;
  restart) ctl -m fast -o "-p $(cat "$DIR/port") -c listen_addresses=127.0.0.1 -k $DIR" restart ;;
  stop) ctl -m fast stop || true ;;
  *) echo "postgres.sh: start | restart | stop" >&2; exit 2 ;;
esac
