#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for the Slurm tests (Debian 12's slurmctld, slurmd and munge;
# see README "Testing on a real Slurm"). Everything lives in DIR; the daemons are stopped by PID.
#   local_cluster.sh start DIR   starts munged, slurmctld and slurmd; prints `export SLURM_CONF=...`
#   local_cluster.sh stop DIR    stops them (scontrol shutdown, then by PID) and waits for them
# Fake GPUs: two character devices (like /dev/null) declared as gres gpu, so --gres/--gpus-per-task
# set CUDA_VISIBLE_DEVICES as on a real GPU node. Needs root (the daemons run as root here).
set -euo pipefail

command=${1:?usage: local_cluster.sh start|stop DIR}
dir=${2:?usage: local_cluster.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/slurm.conf
export SLURM_CONF=$conf

wait_gone() {  # pid file, seconds
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  for _ in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

if [ "$command" = stop ]; then
  scontrol shutdown >/dev/null 2>&1 || true
  wait_gone "$dir/slurmctld.pid" 10
  [ -f "$dir/slurmd.pid" ] && kill -TERM "$(cat "$dir/slurmd.pid")" 2>/dev/null || true
  wait_gone "$dir/slurmd.pid" 10
  # Job processes the daemons left (a killed test): they carry SLURM_CONF=this cluster's file.
  for pid in $(pgrep -f "slurmstepd" || true); do
    grep -qz "SLURM_CONF=$conf" "/proc/$pid/environ" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  [ -f "$dir/munged.pid" ] && kill -TERM "$(cat "$dir/munged.pid")" 2>/dev/null || true
  wait_gone "$dir/munged.pid" 10
  exit 0
fi

[ "$command" = start ] || { echo "local_cluster.sh: unknown command '$command' (start or stop)" >&2; exit 2; }
for program in munged slurmctld slurmd sbatch scontrol; do
  command -v "$program" >/dev/null || [ -x "/usr/sbin/$program" ] ||
    { echo "local_cluster.sh: $program is missing; run scripts/install_dependencies.sh" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "local_cluster.sh: the daemons need root" >&2; exit 1; }

mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 755 "$dir" "$dir/munge"
chown munge:munge "$dir/munge"
[ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"; }
socket=$dir/munge/munge.socket.2
runuser -u munge -- /usr/sbin/munged -S "$socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
for _ in $(seq 1 50); do [ -f "$dir/munge/munged.pid" ] && break; sleep 0.1; done
cp "$dir/munge/munged.pid" "$dir/munged.pid"

for n in 0 1; do [ -e "$dir/fakegpu$n" ] || mknod "$dir/fakegpu$n" c 1 3; done
cores=$(nproc)
cat > "$conf" <<CONF
ClusterName=promptgrid-test
SlurmctldHost=localhost
SlurmctldPort=${PG_SLURMCTLD_PORT:-16817}
SlurmdPort=${PG_SLURMD_PORT:-16818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MailProg=/bin/true
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
GresTypes=gpu
KillWait=10
MinJobAge=600
ReturnToService=2
SchedulerParameters=sched_interval=1
NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 Sockets=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=16000 Gres=gpu:2
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
echo "NodeName=localhost Name=gpu File=$dir/fakegpu[0-1]" > "$dir/gres.conf"

/usr/sbin/slurmctld -f "$conf" -i
/usr/sbin/slurmd -f "$conf" -N localhost
for _ in $(seq 1 100); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
  [ "$state" = idle ] && { echo "export SLURM_CONF=$conf"; exit 0; }
  sleep 0.2
done
echo "local_cluster.sh: the node did not become idle in 20 s (state '${state:-none}'); logs in $dir/log" >&2
tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
exit 1
