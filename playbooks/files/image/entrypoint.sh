#!/bin/sh
# entrypoint ROLE: etcd | patroni | haproxy | anything else is exec'd (psql, patronictl, ...).
set -eu
role="${1:-}"
case "$role" in
  etcd)
    # ETCD_NAME, ETCD_INITIAL_CLUSTER, ETCD_DATA_DIR ... come from the environment.
    exec etcd
    ;;
  patroni)
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    su_pw=$(cat /run/secrets/pg_superuser_password)
    rep_pw=$(cat /run/secrets/pg_replication_password)
    mkdir -p "$PATRONI_POSTGRESQL_DATA_DIR"
    chown postgres:postgres "$PATRONI_POSTGRESQL_DATA_DIR"
    chmod 0700 "$PATRONI_POSTGRESQL_DATA_DIR"
    umask 077
    cat > /etc/patroni.yml <<YAML
scope: ${PATRONI_SCOPE}
name: ${PATRONI_NAME}
restapi:
  listen: 0.0.0.0:8008
  connect_address: ${PATRONI_NAME}:8008
etcd3:
  hosts: ${PATRONI_ETCD3_HOSTS}
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
  initdb: [{encoding: UTF8}, data-checksums]
  pg_hba:
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256
postgresql:
  listen: 0.0.0.0:5432
  connect_address: ${PATRONI_NAME}:5432
  data_dir: ${PATRONI_POSTGRESQL_DATA_DIR}
  bin_dir: ${pgbin}
  authentication:
    superuser: {username: postgres, password: "${su_pw}"}
    replication: {username: replicator, password: "${rep_pw}"}
YAML
    chown postgres:postgres /etc/patroni.yml
    exec su -s /bin/sh postgres -c 'exec patroni /etc/patroni.yml'
    ;;
  haproxy)
    exec haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg
    ;;
  *)
    exec "$@"
    ;;
esac
