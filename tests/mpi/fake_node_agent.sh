#!/bin/sh
# fake_node_agent.sh HOST COMMAND...: the "ssh" that OpenMPI's rsh launcher runs to start its daemon
# on HOST (--mca plm_rsh_agent <this> --host a:2,b:2). It runs COMMAND on this machine as if on a
# node named HOST: in its own UTS namespace (hostname HOST) and its own mount namespace with a
# private tmpfs on /dev/shm, so ranks on different fake hosts really cannot share memory (and
# OpenMPI's own files do not collide). The tmpfs holds $SHMARRAY_FAKE_SHM_SIZE_<HOST>, else
# $SHMARRAY_FAKE_SHM_SIZE, else 1g. Needs root (CAP_SYS_ADMIN), e.g. inside mpirun_test.sh's
# namespace. SHMARRAY_FAKE_NODE_BROKEN=1 (tests only) leaves /dev/shm shared between the hosts: an
# unfaithful emulation, which node_shared_check's layout checks must catch.
host=$1
shift
case $host in
  '' | *[!A-Za-z0-9_]*) echo "fake_node_agent.sh: unusable host name '$host'" >&2; exit 2 ;;
esac
size=$(eval "printf '%s' \"\${SHMARRAY_FAKE_SHM_SIZE_$host:-\${SHMARRAY_FAKE_SHM_SIZE:-1g}}\"")
mount='mount -t tmpfs -o "size=$1" tmpfs /dev/shm'
[ "${SHMARRAY_FAKE_NODE_BROKEN:-0}" = 1 ] && mount=true
exec unshare -m -u --propagation private sh -c \
  'hostname "$0" && '"$mount"' && exec sh -c "$2"' \
  "$host" "$size" "$*"
