#!/usr/bin/env bash
# Fuzzes one reader of untrusted input with afl-fuzz (AFL++) through SharpFuzz, for a bounded time.
#
#   fuzz/run.sh onnx|image SECONDS
#
# Needs: the .NET 10 SDK and afl-fuzz (Debian: apt-get install -y afl++). Installs the SharpFuzz
# instrumentation tool into fuzz/.tools on first use. Builds fuzz/CnnFixations.Fuzz in Release into
# fuzz/out/TARGET/bin, instruments the library there (not the one the tests use), fuzzes from the seed
# corpus (the small ONNX fixtures tests/fixtures/tiny/edge_* plus the models Seeds.cs writes, with the
# dictionary onnx.dict; or the small images in fuzz/seeds/image, made with ImageMagick, see its README),
# then prints afl-fuzz's statistics and replays every crashing input to show the exception that escaped.
# Findings stay in fuzz/out/TARGET/findings (ignored by git); a crashing input becomes a regression
# test by copying it to tests/fixtures/fuzz/.
set -euo pipefail

target=${1:-}
seconds=${2:-}
if [[ ! $target =~ ^(onnx|image)$ || ! $seconds =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh onnx|image SECONDS" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
work=$here/out/$target
tools=$here/.tools

if ! command -v afl-fuzz >/dev/null; then
    echo "afl-fuzz not found: install AFL++ (Debian: apt-get install -y afl++)" >&2
    exit 1
fi
if [[ ! -x $tools/sharpfuzz ]]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools"
fi

rm -rf "$work/bin" "$work/plain" "$work/seeds" "$work/findings"
mkdir -p "$work/seeds"
dotnet publish "$here/CnnFixations.Fuzz/CnnFixations.Fuzz.csproj" -c Release -o "$work/bin" --nologo -v quiet
# Instrumented code runs only under afl-fuzz; an uninstrumented copy writes the seeds and replays findings.
rm -rf "$work/plain"
cp -r "$work/bin" "$work/plain"

# Instrument the assemblies whose branches should guide the fuzzer (in place, in the publish folder).
instrument=("$work/bin/CnnFixations.dll")
if [[ $target == onnx ]]; then instrument+=("$work/bin/Google.Protobuf.dll"); fi
for dll in "${instrument[@]}"; do
    echo "instrumenting $(basename "$dll")"
    "$tools/sharpfuzz" "$dll"
done

dict=()
if [[ $target == onnx ]]; then
    cp "$root"/tests/fixtures/tiny/edge_*/*.onnx "$work/seeds/"
    dotnet "$work/plain/CnnFixations.Fuzz.dll" write-seeds "$work/seeds"   # small models for each constant form
    dict=(-x "$here/onnx.dict")
else
    cp "$here"/seeds/image/*.{png,jpg,gif,bmp,webp} "$work/seeds/"
fi

export AFL_SKIP_BIN_CHECK=1            # the target is 'dotnet', not an AFL-compiled binary
export AFL_NO_UI=1
export AFL_NO_AFFINITY=1
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1

started=$(date +%s)
echo "fuzzing $target for $seconds s: afl-fuzz -V $seconds -i $work/seeds -o $work/findings ${dict[*]} -t 5000 -m none -- dotnet $work/bin/CnnFixations.Fuzz.dll $target"
timeout --signal=INT $((seconds + 120)) \
    afl-fuzz -V "$seconds" -i "$work/seeds" -o "$work/findings" "${dict[@]}" -t 5000 -m none \
    -- dotnet "$work/bin/CnnFixations.Fuzz.dll" "$target" > "$work/afl.log" 2>&1 || true
echo "afl-fuzz ran $(( $(date +%s) - started )) s (log: $work/afl.log)"

stats=$work/findings/default/fuzzer_stats
if [[ ! -f $stats ]]; then
    echo "no fuzzer_stats: afl-fuzz did not start; the end of its log:" >&2
    tail -n 30 "$work/afl.log" >&2
    exit 1
fi
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|corpus_found|bitmap_cvg|edges_found|total_edges|saved_crashes|saved_hangs|unique_crashes|unique_hangs|paths_total|paths_found)\b' "$stats"

shopt -s nullglob
crashes=("$work"/findings/default/crashes/id*)
hangs=("$work"/findings/default/hangs/id*)
echo "crashing inputs: ${#crashes[@]}, hanging inputs: ${#hangs[@]}"
if (( ${#crashes[@]} > 0 )); then
    # Replay each crashing input once, outside afl-fuzz, to print the exception that escaped.
    dotnet "$work/plain/CnnFixations.Fuzz.dll" "$target" --replay "${crashes[@]}" || true
fi
