#!/bin/sh
# Start Redis with one ACL user per driftloop service, or refuse to start.
#
#   start.sh [redis-server arguments...]
#
# Renders the ACL template (lines `user <name> on >${DRIFTLOOP_REDIS_PASSWORD_<NAME>} <rules>`)
# into an ACL file that holds only SHA-256 hashes of the passwords, then execs redis-server with
# `--aclfile`. Every password the template names must be set (DRIFTLOOP_REDIS_PASSWORD_<NAME>, or
# DRIFTLOOP_REDIS_PASSWORD_<NAME>_FILE naming a file that holds it) and must be a real secret:
# the rule of driftloop_bus.secrets (16+ characters, 6+ distinct ones, nothing copied from an
# example). A placeholder stops Redis here, before it listens.
#
# Settings (environment):
#   DRIFTLOOP_REDIS_ACL_TEMPLATE  the template (default: users.acl.template next to this script)
#   DRIFTLOOP_REDIS_ACL_FILE      where the rendered ACL goes (default /tmp/driftloop-redis/users.acl)
#   DRIFTLOOP_REDIS_SERVER        the redis-server binary (default: redis-server on PATH)
#
# Memory is bounded by design: Redis gets `maxmemory` and `maxmemory-policy noeviction` (a full
# Redis refuses writes with OOM, which the services answer with 503 or leave pending; it never
# evicts stream entries or keys silently), and AOF rewrites (`auto-aof-rewrite-percentage 100`,
# `auto-aof-rewrite-min-size 64mb`) keep the append-only file near the data's size, so a
# restart replays little. These come after the arguments given, so they cannot be overridden
# by accident; the limit is set here:
#   REDIS_MAXMEMORY           maxmemory: bytes or 512mb, 1gb, ... (0: no limit, which the
#                             RedisMemoryNoLimit alert reports). Default: REDIS_MAXMEMORY_PERCENT
#                             of REDIS_MEMORY_LIMIT_BYTES when that is set, else 768mb.
#   REDIS_MEMORY_LIMIT_BYTES  the container's memory limit (Kubernetes: the downward API's
#                             limits.memory), from which maxmemory is derived.
#   REDIS_MAXMEMORY_PERCENT   share of that limit for data (default 60): the rest is headroom
#                             for the AOF rewrite's fork (copy-on-write pages), client and
#                             replication buffers, and allocator fragmentation.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
template=${DRIFTLOOP_REDIS_ACL_TEMPLATE:-$here/users.acl.template}
acl_file=${DRIFTLOOP_REDIS_ACL_FILE:-/tmp/driftloop-redis/users.acl}
server=${DRIFTLOOP_REDIS_SERVER:-redis-server}
how="generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(24))' (or make compose-env)"

refuse() {
  echo "driftloop redis: refusing to start: $*" >&2
  exit 78  # EX_CONFIG: a restart will not help until the configuration changes
}

# Why a value cannot be a real secret (the rule of driftloop_bus.secrets), or nothing.
placeholder_reason() {
  value=$1
  if [ "${#value}" -lt 16 ]; then
    echo "it is shorter than 16 characters"; return
  fi
  lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
  case $lowered in
    *replace* | *changeme* | *change-me* | *change_me* | *example* | *placeholder*)
      echo "it looks like a placeholder copied from an example"; return ;;
  esac
  distinct=$(printf '%s' "$value" | fold -w1 | sort -u | wc -l)
  if [ "$distinct" -lt 6 ]; then
    echo "it repeats too few distinct characters"
  fi
}

# The password a variable names: its value, or the content of <variable>_FILE.
password_of() {
  name=$1
  eval "value=\${$name-}"
  eval "file=\${${name}_FILE-}"
  if [ -z "$value" ] && [ -n "$file" ]; then
    [ -r "$file" ] || refuse "$name""_FILE names $file, which cannot be read"
    value=$(cat "$file")
  fi
  printf '%s' "$value"
}

# maxmemory as Redis reads it, from REDIS_MAXMEMORY or the container's limit.
maxmemory_setting() {
  if [ -n "${REDIS_MAXMEMORY:-}" ]; then
    value=$(printf '%s' "$REDIS_MAXMEMORY" | tr '[:upper:]' '[:lower:]')
    printf '%s' "$value" | grep -Eq '^[0-9]+(b|k|kb|m|mb|g|gb)?$' \
      || refuse "REDIS_MAXMEMORY=$REDIS_MAXMEMORY is not a size (e.g. 768mb, 1gb, 805306368)"
    echo "$value"; return
  fi
  if [ -n "${REDIS_MEMORY_LIMIT_BYTES:-}" ]; then
    percent=${REDIS_MAXMEMORY_PERCENT:-60}
    case "$REDIS_MEMORY_LIMIT_BYTES$percent" in
      *[!0-9]*) refuse "REDIS_MEMORY_LIMIT_BYTES and REDIS_MAXMEMORY_PERCENT must be whole numbers" ;;
    esac
    [ "$percent" -ge 10 ] && [ "$percent" -le 90 ] \
      || refuse "REDIS_MAXMEMORY_PERCENT=$percent: keep it within 10..90 (headroom for the fork)"
    echo $((REDIS_MEMORY_LIMIT_BYTES / 100 * percent)); return
  fi
  echo 768mb
}

maxmemory=$(maxmemory_setting)
[ "$maxmemory" != 0 ] || echo "driftloop redis: WARNING maxmemory 0: no memory limit" >&2

[ -r "$template" ] || refuse "no ACL template at $template"
command -v sha256sum >/dev/null || refuse "sha256sum is missing from this image"
if grep -v '^#' "$template" | sed 's/>\${[A-Za-z0-9_]*}//g' | grep -q '\$'; then
  refuse "$template uses a variable outside the form >\${DRIFTLOOP_REDIS_PASSWORD_<NAME>}"
fi

names=$(grep -v '^#' "$template" | grep -o '>\${[A-Za-z0-9_]*}' | sed 's/^>\${\(.*\)}$/\1/' | sort -u)
[ -n "$names" ] || refuse "$template names no password"
script=""
for name in $names; do
  case $name in
    DRIFTLOOP_REDIS_PASSWORD_*) ;;
    *) refuse "$template names $name; passwords are DRIFTLOOP_REDIS_PASSWORD_<NAME>" ;;
  esac
  password=$(password_of "$name")
  [ -n "$password" ] || refuse "$name is not set ($how)"
  reason=$(placeholder_reason "$password")
  [ -z "$reason" ] || refuse "$name must be a real secret: $reason ($how)"
  hash=$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)
  script="$script s/>\\\${$name}/#$hash/g;"
done

mkdir -p "$(dirname "$acl_file")"
umask 077
{
  grep -v '^#' "$template" | grep -v '^[[:space:]]*$' | sed "$script"
  # Without a line for it, Redis keeps the default user on and passwordless.
  grep -q '^user default ' "$template" || echo "user default off"
} > "$acl_file.tmp"
mv "$acl_file.tmp" "$acl_file"
echo "driftloop redis: $(grep -c '^user ' "$acl_file") ACL users from $template" >&2
echo "driftloop redis: maxmemory $maxmemory, policy noeviction" >&2
exec "$server" "$@" \
  --maxmemory "$maxmemory" --maxmemory-policy noeviction \
  --auto-aof-rewrite-percentage 100 --auto-aof-rewrite-min-size 64mb \
  --aclfile "$acl_file"
