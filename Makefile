# Two commands for a fresh clone: `make run` and `make test`.
# Both create .venv and install on first use (and again when the
# dependencies change); constraints.txt pins known-good versions.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-random bench package package-check install-desktop clean

run: $(STAMP)
	$(BIN)/playground $(ARGS)

# XDIST='-n auto --maxprocesses=4 --dist worksteal' runs the suite in one pytest-xdist worker per
# core (at most 4): a window test spends most of its time waiting on its training process, so one
# pytest process leaves a core idle (a full run: 8m21 of CPU, 11m59 wall on the shared 2-core
# machine, against 15m16 in one process). Not yet the default: in both full runs that way
# tests/robustness/test_training.py's start/stop cycles found a run still held at the end (it
# passes in one process, and with tests/robustness alone in two), so something another test leaves
# behind keeps a run alive; found, the default becomes the line above.
XDIST ?=

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The same suite in a shuffled order, in one process (the shuffled order is the order they run in):
# proves that no test depends on what another left behind
test-random: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest --random-order $(PYTEST_ARGS)

# The six performance measurements, side by side against plain PyTorch; writes benchmarks/results.md (BENCH_ARGS: --data-root DIR, --only ...)
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# The standalone one-folder bundle in dist/playground (PyInstaller; why: packaging/README.md).
package: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,package]'
	$(BIN)/python -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/playground.spec
	@du -sh dist/playground

# Slower than `make test`, so not part of it: the wheel in a fresh venv (CLI and window), and the
# bundle under a virtual display (needs xvfb-run and xwininfo: apt install xvfb x11-utils).
package-check: package
	packaging/check_package.sh dist/playground

# The launcher and icons for the current user, for a `playground` installed from the wheel.
install-desktop:
	install -Dm644 packaging/io.github.playground.Playground.desktop \
		~/.local/share/applications/io.github.playground.Playground.desktop
	install -Dm644 resources/icons/playground.svg \
		~/.local/share/icons/hicolor/scalable/apps/io.github.playground.Playground.svg
	for s in 16 24 32 48 64 128 256 512; do \
		install -Dm644 resources/icons/playground-$$s.png \
			~/.local/share/icons/hicolor/$${s}x$${s}/apps/io.github.playground.Playground.png; \
	done

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
