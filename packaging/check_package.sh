#!/usr/bin/env bash
# `make package-check`: the wheel installs into a fresh virtual environment and works from there
# (the command line and the window), and the standalone bundle starts under a virtual display.
#
# The fresh environment gets the wheel with --no-deps; its dependencies (torch alone is GBs) come
# from the development environment through a .pth file instead of being downloaded again. That
# checks what the wheel itself carries — code, resources, examples, icons, entry points — without
# network access; `pip check` then confirms the dependencies the wheel declares are all satisfied.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
BUNDLE=${1:+$(cd "$1" && pwd)}  # absolute: the checks run from a temporary folder
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # never the checkout: nothing may be imported from the source tree by accident
say() { printf '\n== %s\n' "$*"; }

window_appears() {  # run "$@" under a virtual display; succeed once a Playground window is mapped
    xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
        "$@" >"'"$WORK"'/gui.log" 2>&1 & pid=$!
        for _ in $(seq 60); do
            sleep 1
            if ! kill -0 $pid 2>/dev/null; then echo "the window process exited early:"; cat "'"$WORK"'/gui.log"; exit 1; fi
            if xwininfo -root -tree | grep -q "— Playground"; then
                xwininfo -root -tree | grep "— Playground" | head -1
                kill $pid; wait $pid 2>/dev/null || true
                if grep -q Traceback "'"$WORK"'/gui.log"; then cat "'"$WORK"'/gui.log"; exit 1; fi
                exit 0
            fi
        done
        echo "no Playground window after 60 s:"; cat "'"$WORK"'/gui.log"; kill $pid; exit 1' _ "$@"
}

say "building the wheel"
start=$(date +%s)
"$PY" -m build --wheel --no-isolation --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log"; exit 1; }
WHEEL=$(ls "$WORK"/dist/playground-*.whl)
echo "$(basename "$WHEEL") ($(du -h "$WHEEL" | cut -f1)) in $(( $(date +%s) - start )) s"

say "installing it into a fresh virtual environment"
BASE=$("$PY" -c 'import sys; print(sys._base_executable)')
"$BASE" -m venv --without-pip "$WORK/venv"  # no stale pip/setuptools shadowing the dependencies
V="$WORK/venv/bin"
DEPS=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$V/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' | {
    read -r site; echo "$DEPS" >"$site/_playground_dependencies.pth"; }
PIP=("$PY" -m pip --python "$V/python")  # the development pip, acting on the fresh environment
"${PIP[@]}" install --quiet --no-deps --no-index "$WHEEL"
"${PIP[@]}" check
"$V/python" -c 'import playground, sys; p = playground.__file__; print(p); sys.exit(not p.startswith(sys.prefix))'

say "the command line from the installed wheel"
"$V/playground" --version
LENET=$("$V/python" -c 'from playground.resources_path import example_path; print(example_path("mnist_lenet.json"))')
"$V/playground" inspect "$LENET"
"$V/playground" export "$LENET" --format python --out "$WORK/lenet.py"
"$V/python" -I "$WORK/lenet.py"
test -x "$V/playground-gui"

say "the window from the installed wheel"
window_appears "$V/playground" "$LENET"

if [ -n "$BUNDLE" ]; then
    say "the standalone bundle $BUNDLE ($(du -sh "$BUNDLE" | cut -f1))"
    "$BUNDLE/playground" --version
    "$BUNDLE/playground" inspect "$BUNDLE/_internal/playground/resources/examples/xor.json"
    window_appears "$BUNDLE/playground" "$BUNDLE/_internal/playground/resources/examples/mnist_lenet.json"
fi
say "package-check passed"
