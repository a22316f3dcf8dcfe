#!/bin/sh
# One of three sentinels watching the driftloop primary (quorum 2). The configuration is
# written fresh at each start, in memory (Sentinel rewrites it as it learns): the primary
# another sentinel already knows, else redis-0. Sentinel logs in to Redis as `admin`.
set -eu

self="$(hostname).${SENTINEL_SERVICE:-redis-sentinel}"
master_name=${REDIS_SENTINEL_MASTER:-driftloop}
conf=/run/driftloop-sentinel/sentinel.conf

primary=""
for sentinel in ${REDIS_SENTINEL_HOSTS:-}; do
  [ "$sentinel" = "$self" ] && continue
  answer=$(redis-cli -h "$sentinel" -p 26379 --raw SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null | head -1 || true)
  if [ -n "$answer" ]; then primary=$answer; break; fi
done
[ -n "$primary" ] || primary="${REDIS_FIRST_PRIMARY:-redis-0.redis}"

mkdir -p "$(dirname "$conf")"
umask 077
cat > "$conf" <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
sentinel monitor $master_name $primary 6379 2
sentinel auth-user $master_name admin
sentinel auth-pass $master_name $DRIFTLOOP_REDIS_PASSWORD_ADMIN
sentinel down-after-milliseconds $master_name 5000
sentinel failover-timeout $master_name 60000
sentinel parallel-syncs $master_name 1
CONF
echo "driftloop sentinel: $self watches $primary" >&2
exec redis-server "$conf" --sentinel
