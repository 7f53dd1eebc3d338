#!/bin/sh
# Usage: IMAGES=/shared/images OUT=/shared/out deploy/slurm/submit.sh
# Submits the array (one task per shard) and a merge job that starts when every task has ended
# (afterany: merge itself checks that every image is in some shard and fails naming the missing shards).
set -eu
cd "$(dirname "$0")"
array=$(sbatch --parsable --export=ALL explain-array.sbatch)
sbatch --dependency=afterany:"$array" --export=ALL merge.sbatch
