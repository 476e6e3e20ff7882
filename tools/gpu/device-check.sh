#!/usr/bin/env bash
# The GPU device check, run on a machine with an NVIDIA GPU (H100 / H200 class) and no .NET:
#   here:   tools/gpu/publish.sh                   (tools/gpu/bin/vib3-device-check, one self-contained file)
#   there:  tools/gpu/device-check.sh [ARGS...]    (from the repository root, with tools/gpu/bin beside the tree)
# In order, each section's lines printed as they come: the CUDA device opens and runs vib3's self-test kernel; its
# copy bandwidth; every device matvec type against the CPU's, and its speed; whole-model logits on the device against
# the CPU for every family (f32, q8_0, q4_k_m); decode and prefill of the Mixtral-shaped (q8_0, q4_k_m) and the
# Kimi-shaped (q8_0) models, CPU only and with VRAM budgets of the whole model (next to the HBM bound), half and a
# quarter, each the median and min of three runs. Everything is capped at 7 min 40 s so the check fits an 8-minute
# slot; what finished is kept.
# Writes device-check.log, device-check.json, nvidia-smi.txt and lscpu.txt into $OUT (or ./device-check-out).
# ARGS go to the tool (vib3-device-check --help lists them: --sections, --models, --layers).
# Exit code: the tool's (0 every comparison held, 1 one did not, 2 no device), 124 when the cap cut it short.
set -u
cd "$(dirname "$0")/../.."
out=${OUT:-device-check-out}
mkdir -p "$out"
bin=tools/gpu/bin/vib3-device-check
if [ ! -x "$bin" ]; then
  echo "device-check: $bin is missing: run tools/gpu/publish.sh where .NET is, and carry tools/gpu/bin" >&2
  exit 2
fi
{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv; } > "$out/nvidia-smi.txt" 2>&1
lscpu > "$out/lscpu.txt" 2>&1
export DOTNET_BUNDLE_EXTRACT_BASE_DIR="${TMPDIR:-/tmp}/vib3-device-check-bundle"
timeout 460 "$bin" --accelerator cuda --dir "${TMPDIR:-/tmp}/vib3-device-check" --json "$out/device-check.json" "$@" 2>&1 \
  | tee "$out/device-check.log"
exit "${PIPESTATUS[0]}"
