#!/bin/sh
# One Redis node of the Sentinel overlay: the primary the sentinels name, or its replica.
#
# Asks the sentinels which node is the primary (after a failover it may be any of them); if none
# answers (the first start), redis-0 is the primary and the others replicate it. Replication and
# the sentinels log in as the ACL user `admin`; its password goes into a config file in memory,
# never on the command line. Then hands over to start.sh (ACL users, maxmemory, noeviction).
set -eu

self="$(hostname).${REDIS_SERVICE:-redis}"
sentinels=${REDIS_SENTINEL_HOSTS:-}
master_name=${REDIS_SENTINEL_MASTER:-driftloop}
conf=/run/driftloop-redis/replication.conf

primary=""
for sentinel in $sentinels; do
  answer=$(redis-cli -h "$sentinel" -p 26379 --raw SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null | head -1 || true)
  if [ -n "$answer" ]; then primary=$answer; break; fi
done
[ -n "$primary" ] || primary="${REDIS_FIRST_PRIMARY:-redis-0.redis}"

mkdir -p "$(dirname "$conf")"
umask 077
{
  echo "replica-announce-ip $self"
  echo "masteruser admin"
  echo "masterauth $DRIFTLOOP_REDIS_PASSWORD_ADMIN"
  if [ "$primary" != "$self" ]; then
    echo "replicaof $primary 6379"
  fi
} > "$conf"
echo "driftloop redis: $self, primary $primary" >&2
exec /bin/sh /etc/driftloop/redis/start.sh "$conf" "$@"
