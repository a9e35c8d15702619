#!/usr/bin/env bash
# One GPU session: the CUDA-relevant tests, the GPU benchmarks, then as many GPU rows of
# `pgm reproduce` as fit the time budget, each checkpointed, so that running this script again
# (same OUT) continues every row where the last session stopped.
#
#   benchmarks/gpu_session.sh [OUT] [MINUTES]
#     OUT      where the runs, logs and tables go (default: gpu-session)
#     MINUTES  the whole session's budget (default: 120)
#   env: PYTHON (default: python), PGM_DATA_DIR (binarized_mnist.npz; fetched when missing)
#
# Run from the repository root (or anywhere pgm is installed). Exit status: 0 when every step
# ran, 1 when a step failed (the others still ran; see OUT/session.log).
set -u -o pipefail

OUT=${1:-gpu-session}
MINUTES=${2:-120}
PYTHON=${PYTHON:-python}
ROWS=(convhvae-vamp pixelhvae-vamp pixelcnn row-lstm diagonal-bilstm pixelvae iwae-1layer)
# minutes kept back for each row's evaluation after its training stops
EVAL_MINUTES=${EVAL_MINUTES:-10}

mkdir -p "$OUT"
LOG="$OUT/session.log"
START=$(date +%s)
FAILED=0

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG"; }
left() { echo $((MINUTES - ($(date +%s) - START) / 60)); }
step() {  # step NAME CMD...: run, log, remember a failure, carry on
  local name=$1
  shift
  say "start: $name"
  if "$@" >>"$LOG" 2>&1; then
    say "done: $name"
  else
    say "FAILED: $name (exit $?; see $LOG)"
    FAILED=1
  fi
}

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  say "no CUDA device visible to torch: nothing to do"
  exit 1
fi
"$PYTHON" -c 'import torch; print("device:", torch.cuda.get_device_name(0))' | tee -a "$LOG"

# 1. tests that exercise devices (device selection, CUDA paths), then the estimator's
step "cuda tests" "$PYTHON" -m pytest -q -x -k "cuda or gpu or device" tests
# 2. the benchmarks, their table kept
step "benchmarks" "$PYTHON" -m benchmarks --threads 0 --write-results "$OUT/benchmarks.md"

# 3. the data the rows need
if [ -n "${PGM_DATA_DIR:-}" ]; then
  step "data" "$PYTHON" -m pgm_cli data fetch binarized-mnist --data-dir "$PGM_DATA_DIR"
else
  step "data" "$PYTHON" -m pgm_cli data fetch binarized-mnist
fi

# 4. the GPU rows, the remaining time shared among the rows not yet started
remaining=${#ROWS[@]}
for row in "${ROWS[@]}"; do
  minutes=$(($(left) / remaining - EVAL_MINUTES))
  remaining=$((remaining - 1))
  if [ "$minutes" -lt 5 ]; then
    say "skip: $row (only $(left) minutes left; run this script again to continue)"
    continue
  fi
  resume=()
  if [ -d "$OUT/reproduce/$row" ]; then
    resume=(--resume)
  fi
  step "reproduce $row ($minutes min)" "$PYTHON" -m pgm_cli reproduce "$row" \
    --out "$OUT/reproduce" --device cuda --time-budget "$minutes" --no-progress "${resume[@]}"
done

say "session over: $(($(date +%s) - START))s; table: $OUT/reproduce/reproduction.md"
exit "$FAILED"
