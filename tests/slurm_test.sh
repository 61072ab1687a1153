#!/usr/bin/env bash
# A real one-node Slurm cluster (Debian's slurm-wlm and munge), private to this test: submits the
# README's job array command, merges the shards and checks the result equals a local sweep of
# the same file, design for design; then cancels a task while it runs, resubmits just that task
# and checks again. Every daemon it starts is stopped by PID on exit.
# Usage: QACCEL=path/to/qaccel slurm_test.sh SOURCE_DIR
# Exits 77 (ctest: skipped) when not root and Slurm or munge is missing: the daemons need root.
set -euo pipefail
src=$(cd "$1" && pwd)
q=$(realpath "${QACCEL:?set QACCEL to the qaccel binary}")
sweep=$src/tests/data/slurm-sweep.yaml
shards=2
t_start=$EPOCHREALTIME

export PATH=$PATH:/usr/sbin
tools=(munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel sqlite3)
missing() {
  for t in "${tools[@]}"; do command -v "$t" >/dev/null 2>&1 || return 0; done
  return 1
}
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the Slurm daemons need root" >&2
  exit 77
fi
if missing; then
  echo "slurm_test: installing Slurm and munge" >&2
  "$src/scripts/install-deps.sh" >&2 || { echo "SKIP: cannot install slurm-wlm/munge" >&2; exit 77; }
  missing && { echo "FAIL: slurm-wlm/munge still missing after install-deps" >&2; exit 1; }
fi

tmp=$(mktemp -d /tmp/qaccel-slurm.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  # Jobs first (their steps belong to slurmd), then the daemons, each by the PID we started.
  if [ -n "${SLURM_CONF:-}" ] && [ ${#pids[@]} -gt 0 ]; then
    scancel --quiet --user=root 2>/dev/null || true
  fi
  for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"}; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$tmp"/log/*.log "$tmp"/work/results/shards*/*.out; do
      [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed() { awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Ports of our own (two clusters on one machine must not collide): a free pair from a range.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=0
for _ in $(seq 50); do
  b=$((20000 + (RANDOM % 20000) * 2))
  if port_free "$b" && port_free $((b + 1)); then base=$b; break; fi
done
[ "$base" -ne 0 ] || fail "no free port pair found"

# munge: key directory mode 711, a private socket that slurm.conf's AuthInfo names.
mkdir -p "$tmp/munge" "$tmp/log" "$tmp/state" "$tmp/spool" "$tmp/work"
chmod 711 "$tmp" "$tmp/munge"
mungekey -c -k "$tmp/munge/munge.key"
chmod 600 "$tmp/munge/munge.key"
socket=$tmp/munge/munge.socket
munged --foreground --force --key-file="$tmp/munge/munge.key" --socket="$socket" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/seed" \
  --log-file="$tmp/log/munged.log" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
[ -S "$socket" ] || fail "munged did not start"

host=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF=$tmp/slurm.conf
# linuxproc and task/none: no cgroups to set up or leave behind; batch_sched_delay=0 starts the
# tasks without a pause; no accounting (sacct would need slurmdbd: we poll squeue/scontrol).
cat >"$SLURM_CONF" <<EOF
ClusterName=qaccel-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool/%n
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=5
MinJobAge=600
NodeName=qnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=qnode Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -c -i -f "$SLURM_CONF" >"$tmp/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N qnode -f "$SLURM_CONF" >"$tmp/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  state=$(sinfo -h -n qnode -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "$state" = idle ] || fail "the node did not become idle (state '$state')"
echo "cluster up after $(elapsed) s (ports $base, $((base + 1)))"

# wait_job ID SECONDS: until no task of the job is queued or running.
wait_job() {
  local id=$1 limit=$2 t0=$SECONDS
  while [ -n "$(squeue -h -j "$id" -o %i 2>/dev/null)" ]; do
    [ $((SECONDS - t0)) -lt "$limit" ] || fail "job $id still queued or running after ${limit}s: $(squeue -h -j "$id" -o '%i %T %r')"
    sleep 0.2
  done
}
# completed ID: every task of the job ended COMPLETED with exit 0.
completed() {
  local id=$1 bad
  bad=$(scontrol -o show job "$id" | grep -v 'JobState=COMPLETED .*ExitCode=0:0' || true)
  [ -z "$bad" ] || fail "job $id: not every task completed: $(echo "$bad" | grep -o 'JobId=[0-9]* ArrayJobId=[0-9]* ArrayTaskId=[0-9]*\|JobState=[A-Z]*\|ExitCode=[0-9:]*' | tr '\n' ' ')"
}
# Everything a run stores except where and when it ran.
dump() {
  sqlite3 -readonly "$1" <<'SQL'
SELECT 'design', hash, system_yaml, model, workload, sim_version FROM designs ORDER BY hash;
SELECT 'point', sweep, hash, point FROM sweep_designs ORDER BY sweep, hash;
SELECT 'param', * FROM params ORDER BY hash, name;
SELECT 'run', hash, status, error, sim_version, schedule, prefetch FROM runs ORDER BY hash;
SELECT 'metrics', * FROM metrics ORDER BY hash;
SELECT 'energy', * FROM energy ORDER BY hash, component;
SELECT 'op', * FROM op_metrics ORDER BY hash, idx;
SELECT 'unit', * FROM unit_metrics ORDER BY hash, unit;
SELECT 'stat', * FROM stats ORDER BY hash, name;
SQL
}
same_as_local() {  # same_as_local DB WHAT
  dump "$1" >"$tmp/merged.txt"
  if ! cmp -s "$tmp/local.txt" "$tmp/merged.txt"; then
    diff "$tmp/local.txt" "$tmp/merged.txt" | cut -c1-200 | head -20 >&2
    fail "$2: the merged database differs from the local sweep (above: < local, > merged)"
  fi
  echo "ok: $2: $(grep -c '^run|' "$tmp/merged.txt") designs, equal to the local sweep"
}

# The reference: the same file swept locally (its designs' order and count are the sweep's).
"$q" sweep "$sweep" --workers "$cpus" --db "$tmp/local.db" >/dev/null 2>"$tmp/log/local.err" ||
  fail "local sweep: $(tail -3 "$tmp/log/local.err")"
dump "$tmp/local.db" >"$tmp/local.txt"
designs=$(grep -c '^run|' "$tmp/local.txt")
[ "$(grep -c '^run|.*|ok|' "$tmp/local.txt")" -eq "$designs" ] || fail "local sweep: not every design ok"

# The README's command, from a directory that is not the repo and with the binary elsewhere.
cd "$tmp/work"
name=$(basename "$sweep" .yaml)
mkdir -p results/shards
job=$(sbatch --parsable --array=0-$((shards - 1)) --output=results/shards/%x-%A_%a.out \
  "$src/scripts/slurm-sweep.sbatch" "$sweep" "$shards" --qaccel "$q" --timeout 600)
wait_job "$job" 120
completed "$job"
"$q" merge results/qaccel.db results/shards/"$name"-*.db >/dev/null
same_as_local results/qaccel.db "array of $shards tasks"

# Cancel a task while it runs (at least one design stored, not all), resubmit it alone with the
# explicit shard count, merge again.
mkdir -p results/shards2
job=$(sbatch --parsable --array=0-$((shards - 1)) --output=results/shards2/%x-%A_%a.out \
  "$src/scripts/slurm-sweep.sbatch" "$sweep" "$shards" --qaccel "$q" --shards results/shards2 \
  --workers 1)
victim=$((shards - 1))
db=results/shards2/$name-$victim.db
count() { sqlite3 -readonly -cmd '.timeout 2000' "$db" "SELECT count(*) FROM runs WHERE status='ok'" 2>/dev/null || echo 0; }
t0=$SECONDS
until [ -f "$db" ] && [ "$(count)" -ge 1 ]; do
  [ $((SECONDS - t0)) -lt 120 ] || fail "task $victim stored no design within 120s"
  sleep 0.05
done
scancel "${job}_$victim"
wait_job "$job" 120
state=$(scontrol -o show job "${job}_$victim" | grep -o 'JobState=[A-Z]*')
per_shard=$(((designs + shards - 1) / shards))
stored=$(count)
echo "cancelled task $victim ($state) with $stored of about $per_shard designs stored"
[ "$state" = JobState=CANCELLED ] || fail "task $victim ended $state before it could be cancelled"
[ "$stored" -lt "$per_shard" ] || echo "note: task $victim had stored all its designs when cancelled"
job=$(sbatch --parsable --array="$victim" --output=results/shards2/%x-%A_%a.out \
  "$src/scripts/slurm-sweep.sbatch" "$sweep" "$shards" --qaccel "$q" --shards results/shards2)
wait_job "$job" 120
completed "$job"
[ "$(ls results/shards2/"$name"-*.db | wc -l)" -eq "$shards" ] || fail "shard databases: $(ls results/shards2)"
"$q" merge results/qaccel2.db results/shards2/"$name"-*.db >/dev/null
same_as_local results/qaccel2.db "cancelled task resubmitted"

# Options pass through to `qaccel sweep`: a resubmission with nothing left to do.
job=$(sbatch --parsable --array=0-$((shards - 1)) --output=results/shards2/%x-%A_%a.out \
  "$src/scripts/slurm-sweep.sbatch" "$sweep" "$shards" --qaccel "$q" --shards results/shards2 \
  --retry-failed --timeout 60)
wait_job "$job" 120
completed "$job"
grep -q "ran 0, already stored" results/shards2/*-"${job}"_0.out || fail "resubmission ran designs again"

echo "slurm_test: passed in $(elapsed) s before shutdown"
