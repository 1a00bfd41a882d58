#!/bin/bash
# Run a leadsim sweep as a Slurm job array: one shard per array task, then merge.
#   sbatch --array=1-16 experiments/slurm-sweep.sh experiments/sweep-chord-batch-n.toml
#   # when all tasks are done (e.g. a dependent job):
#   ./target/release/leadsim merge experiments/sweep-chord-batch-n.toml shards/*
# Build once on the shared filesystem first (cargo build --release), and pre-generate datasets
# (leadsim dataset gen ...) so that tasks only read the cache.
#SBATCH --job-name=leadsim-sweep
#SBATCH --cpus-per-task=2
#SBATCH --time=02:00:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail
manifest="$1"
shards="${SLURM_ARRAY_TASK_COUNT:?run as a job array}"
task="${SLURM_ARRAY_TASK_ID:?run as a job array}"
# Array ids may start at 0 or 1: normalise to 1..N.
min="${SLURM_ARRAY_TASK_MIN:-1}"
i=$((task - min + 1))
out="shards/shard-$i"
mkdir -p "$out" logs
# Each shard writes its runs under its own directory (output.dir is overridden by copying the
# manifest with a different dir would change nothing else: runs are named by index and seed).
sed "s#^dir = .*#dir = \"$out\"#" "$manifest" > "$out/manifest.toml"
./target/release/leadsim sweep "$out/manifest.toml" --shard "$i/$shards" --jobs "${SLURM_CPUS_PER_TASK:-2}"
