#!/bin/sh
# mpirun_test.sh [OPTIONS] -- PROGRAM [ARGS...]: runs an MPI test program under mpirun on this one
# machine, as root or not, without ssh, the way CTest registers it (tests/mpi.cmake).
#   --np N        ranks (default 4), oversubscribed (CI machines have 2 cores)
#   --hosts LIST  fake hosts (e.g. a:2,b:2): mpirun starts one daemon per host through
#                 fake_node_agent.sh, each in its own hostname and /dev/shm (needs --isolate's
#                 namespace; implies it)
#   --isolate     run in a private mount namespace with its own tmpfs on /dev/shm, so OpenMPI's
#                 files and the program's segments never reach the machine's /dev/shm
#   --crash       a rank of the job kills itself: pass when mpirun fails, and every segment the
#                 program announced on stdout ("segment NAME tracker PID") is gone from /dev/shm
#                 once its tracker has exited (waited for with a bound); implies --isolate
# Without --hosts/--isolate/--crash the job runs in a private namespace when one can be made, in
# the machine's /dev/shm otherwise. When one is needed and cannot be made (not root, no unshare),
# exits 77: CTest reports the test as skipped (SKIP_RETURN_CODE 77).
# Environment passed to every rank: SHMARRAY_MPI_RANKS_PER_NODE, EXPECT_NODES, SHMARRAY_STRESS.
here=$(cd "$(dirname "$0")" && pwd)
np=4 hosts= isolate=auto crash=0 inside=0
while [ $# -gt 0 ]; do
  case $1 in
    --np) np=$2; shift 2 ;;
    --hosts) hosts=$2; isolate=yes; shift 2 ;;
    --isolate) isolate=yes; shift ;;
    --crash) crash=1; isolate=yes; shift ;;
    --inside) inside=1; shift ;;  # internal: already in the private namespace
    --) shift; break ;;
    *) echo "mpirun_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "mpirun_test.sh: no program" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "SKIP: no mpirun"; exit 77; }

if [ "$inside" = 0 ] && [ "$isolate" != no ]; then
  if unshare -m --propagation private true 2>/dev/null; then
    ns="unshare -m --propagation private"
  elif unshare -r -m --propagation private true 2>/dev/null; then
    ns="unshare -r -m --propagation private"  # an unprivileged user namespace
  else
    ns=
  fi
  if [ -n "$ns" ]; then
    args="--np $np"
    [ -n "$hosts" ] && args="$args --hosts $hosts"
    [ "$crash" = 1 ] && args="$args --crash"
    # shellcheck disable=SC2086
    exec $ns "$0" --inside $args -- "$@"
  fi
  if [ "$isolate" = yes ]; then
    echo "SKIP: needs a private mount namespace (root or user namespaces, and unshare)"
    exit 77
  fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/shmarray-mpi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
if [ "$inside" = 1 ]; then
  mount -t tmpfs -o "size=${SHMARRAY_TEST_SHM_SIZE:-2g}" tmpfs /dev/shm || exit 1
  if [ -n "$hosts" ]; then
    # mpirun resolves the fake names: give them addresses that are not this machine's (mapped to
    # 127.0.0.1 they would count as the local host) so no DNS query can stall for 5 s.
    cp /etc/hosts "$tmp/hosts" && chmod 644 "$tmp/hosts"
    i=1
    for h in $(printf '%s\n' "$hosts" | tr ',' '\n' | cut -d: -f1); do
      echo "198.51.100.$i $h" >>"$tmp/hosts"
      i=$((i + 1))
    done
    mount --bind "$tmp/hosts" /etc/hosts || exit 1
  fi
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export TMPDIR="$tmp"  # OpenMPI's session directory: nothing left in /tmp if the job hangs
set -- --oversubscribe --mca pml ob1 --mca mpi_yield_when_idle 1 -np "$np" "$@"
for v in SHMARRAY_MPI_RANKS_PER_NODE EXPECT_NODES SHMARRAY_STRESS; do
  eval "[ -n \"\${$v+x}\" ]" && set -- -x "$v" "$@"
done
if [ -n "$hosts" ]; then
  # OpenMPI splits plm_rsh_agent at spaces: run a copy from the private directory, so a checkout
  # whose path has a space (or sits under a folder the daemons' uid cannot reach) still works.
  case "$tmp" in *" "*)
    echo "mpirun_test.sh: TMPDIR has a space ($tmp); OpenMPI's rsh agent path cannot" >&2
    exit 1 ;;
  esac
  cp "$here/fake_node_agent.sh" "$tmp/fake_node_agent.sh" && chmod 755 "$tmp/fake_node_agent.sh" ||
    exit 1
  set -- --mca plm_rsh_agent "$tmp/fake_node_agent.sh" --host "$hosts" "$@"
fi

timeout -k 5 "${SHMARRAY_MPI_TIMEOUT:-120}" mpirun "$@" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
# The rsh launcher races with its children's exec: a harmless setpgid warning that no MCA
# parameter silences.
grep -v 'plm:rsh: Warning: setpgid' "$tmp/err" >&2

if [ "$crash" = 1 ]; then
  if [ "$rc" = 0 ]; then
    echo "FAIL: mpirun exited 0, yet a rank was to kill itself"
    exit 1
  fi
  announced=$(grep -c '^segment ' "$tmp/out")
  [ "$announced" -gt 0 ] || { echo "FAIL: the program announced no segment"; exit 1; }
  left=0
  while read -r _ name _ pid; do
    # The tracker unlinks once it sees its owner die, then exits: wait for that, bounded.
    [ "$pid" -gt 0 ] && timeout 20 tail --pid="$pid" -s 0.05 -f /dev/null
    if [ -e "/dev/shm/$name" ]; then
      echo "FAIL: segment $name is still in /dev/shm (tracker $pid)"
      left=$((left + 1))
    fi
  done <<EOF
$(grep '^segment ' "$tmp/out")
EOF
  stray=$(ls /dev/shm | grep -e '^shmarray-' -e '^shmt-')
  [ -z "$stray" ] || { echo "FAIL: left in /dev/shm: $stray"; left=$((left + 1)); }
  [ "$left" = 0 ] || exit 1
  echo "OK: mpirun exited $rc after the kill; the $announced announced segments are gone"
  exit 0
fi
exit "$rc"
