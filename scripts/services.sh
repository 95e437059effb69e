#!/usr/bin/env bash
# Start the local PostgreSQL and Redis the test suite talks to, if they are down.
set -euo pipefail

wait_for() {  # host port name
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "$3 did not come up on $1:$2" >&2
  return 1
}

if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  echo "Starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  wait_for 127.0.0.1 5432 PostgreSQL
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  echo "Starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for 127.0.0.1 6379 Redis
fi
