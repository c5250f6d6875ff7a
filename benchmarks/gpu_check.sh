#!/usr/bin/env bash
# One check of the GPU path on a machine with an NVIDIA GPU: every GPU test (CuPy kernels against
# their NumPy twins, DALI mixed decode against DALI on the CPU, the loader's GPU stage, the query
# engine's CuPy path) and the GPU benchmark, then one summary table. Budget: under 8 minutes.
#
#   benchmarks/gpu_check.sh [RESULTS_DIR]      run it (default results dir: gpu_check_results/)
#   benchmarks/gpu_check.sh fetch [PYVER]      on a machine with network access: download, into .whl/,
#                                              the wheels deeplake_nb needs that a CUDA image without
#                                              network usually lacks (zarr, numcodecs, simplejpeg ...),
#                                              for Python PYVER (default 3.12), each at the version
#                                              $PYTHON (default python3) has installed, if it has
#                                              one; the run installs them
#                                              from .whl/ when the interpreter cannot import them.
#
# Environment: PYTHON (default: .venv/bin/python if it exists, else python3), GPU_CHECK_N (JPEGs in
# the benchmark, default 2048). The run never installs from the network and never changes the GPU's
# settings. Exit status: 0 when no test failed (skips are listed with their reasons), else 1.
set -uo pipefail
cd "$(dirname "$0")/.."

WHEELS=(zarr numcodecs donfig google-crc32c crc32c simplejpeg lz4 cloudpickle tqdm typing_extensions)

if [ "${1:-}" = fetch ]; then
  pyver="${2:-3.12}"
  mkdir -p .whl
  for name in "${WHEELS[@]}"; do
    # the version installed here, the one the test suite ran against, when there is one
    version="$("${PYTHON:-python3}" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name" 2>/dev/null)"
    [ -n "$version" ] && name="$name==$version"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform any -d .whl "$name" || echo "note: no wheel for $name"
  done
  ls -l .whl
  exit 0
fi

RESULTS="${1:-gpu_check_results}"
mkdir -p "$RESULTS"
PY="${PYTHON:-}"
[ -z "$PY" ] && { [ -x .venv/bin/python ] && PY=.venv/bin/python || PY=python3; }
START=$(date +%s)

# Wheels for what the interpreter lacks, installed into a private folder (never into the system).
if ! "$PY" -c "import zarr, numcodecs, simplejpeg" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
  SITE="$(mktemp -d)/site"
  "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl \
    && export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{
  echo "# gpu_check $(date -u +%Y-%m-%dT%H:%MZ) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: none"
  "$PY" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "cupy", "nvidia.dali", "torchvision", "zarr", "numpy"):
    try:
        module = importlib.import_module(name)
        extra = ""
        if name == "torch":
            extra = f" cuda={module.version.cuda} available={module.cuda.is_available()}"
        if name == "cupy":
            try:
                extra = f" devices={module.cuda.runtime.getDeviceCount()}"
            except Exception as exc:  # no driver, no device
                extra = f" devices=0 ({type(exc).__name__})"
        print(f"{name} {getattr(module, '__version__', '?')}{extra}")
    except Exception as exc:
        print(f"{name}: missing ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
EOF
} | tee "$RESULTS/environment.txt"

if ! "$PY" -c "import deeplake_nb" 2>"$RESULTS/import_error.txt"; then
  echo "deeplake_nb does not import here (see $RESULTS/import_error.txt):"; tail -3 "$RESULTS/import_error.txt"
  echo "Run 'benchmarks/gpu_check.sh fetch' on a machine with network access and bring .whl/ along."
  exit 1
fi

# 1. GPU tests (about 3 minutes at most): each file's results in JUnit XML.
GPU_TESTS=(tests/test_gpu_cuda.py tests/test_gpu.py tests/test_loader_dali.py tests/test_query_speed_paths.py)
timeout 240 "$PY" -m pytest -q -p no:cacheprovider -p no:randomly -rs "${GPU_TESTS[@]}" \
  --junitxml="$RESULTS/gpu_tests.xml" > "$RESULTS/gpu_tests.log" 2>&1
TESTS_RC=$?
tail -25 "$RESULTS/gpu_tests.log"

# 2. The GPU benchmark (about 3 minutes at most).
timeout 200 "$PY" benchmarks/bench_gpu.py --n "${GPU_CHECK_N:-2048}" --batch 128 --repeats 3 \
  > "$RESULTS/bench_gpu.txt" 2>&1
BENCH_RC=$?

# 3. One summary table.
"$PY" - "$RESULTS" "$TESTS_RC" "$BENCH_RC" "$START" <<'EOF'
import collections, os, sys, time
import xml.etree.ElementTree as ET
results, tests_rc, bench_rc, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
counts = collections.defaultdict(collections.Counter)
xml = os.path.join(results, "gpu_tests.xml")
if os.path.exists(xml):
    for case in ET.parse(xml).getroot().iter("testcase"):
        file = (case.get("classname") or "?").split(".")[-1]
        kinds = {child.tag for child in case}
        outcome = ("failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed")
        counts[file][outcome] += 1
print("\n## GPU tests")
print(f"{'file':36} {'passed':>7} {'failed':>7} {'skipped':>8}")
for file, c in sorted(counts.items()):
    print(f"{file:36} {c['passed']:7} {c['failed']:7} {c['skipped']:8}")
if not counts:
    print(f"(no results: pytest exit status {tests_rc}, see gpu_tests.log)")
print("\n## GPU benchmark (images/s; bench_gpu.txt)")
with open(os.path.join(results, "bench_gpu.txt")) as f:
    lines = f.read().splitlines()
print("\n".join(lines[-25:]) if bench_rc == 0 else f"(exit status {bench_rc}; last lines)\n" + "\n".join(lines[-8:]))
print(f"\nwall time {time.time() - start:.0f} s; tests exit {tests_rc}, benchmark exit {bench_rc}")
failed = sum(c["failed"] for c in counts.values())
sys.exit(1 if failed or tests_rc not in (0, 5) else 0)
EOF
