#!/usr/bin/env bash
# The peers table of bench/README.md from one run on one machine: PyTorch's forward and Grad-CAM
# (bench/peers/torch_gradcam.py) and this tool's forward, Grad-CAM and default explanation
# (CnnFixations.Bench) for the same architectures and input sizes, then one Markdown table.
#
#   bash bench/peers/run.sh [ARCH...]        (default: mobilenet_v2 resnet50 googlenet vgg16)
#
# Needs bench/models/ARCH.onnx (see bench/README.md, "Command"), Debian python3-torch and
# python3-torchvision. Nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
archs=("${@:-mobilenet_v2 resnet50 googlenet vgg16}")
read -r -a archs <<< "${archs[*]}"
out=bench/peers/last-run
rm -rf "$out" && mkdir -p "$out/models"
threads=$(nproc)
for a in "${archs[@]}"; do
  [ -f "bench/models/$a.onnx" ] || { echo "error: bench/models/$a.onnx is missing (bench/README.md, Command)" >&2; exit 1; }
  ln -s "$PWD/bench/models/$a.onnx" "$out/models/$a.onnx"
done
dotnet build -c Release bench/CnnFixations.Bench -v q -nologo > /dev/null
for a in "${archs[@]}"; do
  /usr/bin/python3 bench/peers/torch_gradcam.py "$a" --iters 10 --threads "$threads" >> "$out/torch.jsonl"
done
dotnet run -c Release --no-build --project bench/CnnFixations.Bench -- --models "$out/models" --json "$out/ours.json" > "$out/ours.txt"
/usr/bin/python3 bench/peers/table.py "$out/torch.jsonl" "$out/ours.json" | tee "$out/table.md"
