#!/usr/bin/env bash
# Set up everything napari-uspio needs on a fresh Debian machine, then run it.
#   scripts/dev.sh demo [--screenshot PNG]   napari with the sample case and widgets
#   scripts/dev.sh test [pytest args]        style (ruff), layers (import-linter), then the
#                                            test suite under Xvfb
#   scripts/dev.sh bench [--quick]           the benchmarks
# System libraries come from apt when run as root (or with passwordless sudo);
# otherwise the script says what to install. Python packages go into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

QT_LIBS=(xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0
  libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0
  libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1)
# the tests start a throwaway PostgreSQL server on loopback (initdb + pg_ctl)
SERVER_PACKAGES=(postgresql)
PYTHON=${PYTHON:-python3}

need_system() {
  local missing=()
  for p in "${QT_LIBS[@]}" "${SERVER_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  command -v "$PYTHON" >/dev/null 2>&1 || missing+=(python3)
  "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  local apt=(apt-get)
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then apt=(sudo apt-get); else
      echo "Missing system packages. Install them with:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "installing system packages: ${missing[*]}"
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
}

need_venv() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "napari 0.9 needs Python >= 3.11; $PYTHON is older. Set PYTHON=python3.11." >&2; exit 1; }
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  local stamp=".venv/.napari-uspio-$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[pyqt6,test]"
    rm -f .venv/.napari-uspio-* && touch "$stamp"
  fi
}

lint() {  # style and layers: fails on a lint error, a format error or an import against the layers
  .venv/bin/ruff check src tests benchmarks
  .venv/bin/ruff format --check src tests benchmarks
  .venv/bin/lint-imports
}

headless() {  # run "$@" under Xvfb unless a display exists
  if [ -n "${DISPLAY:-}" ]; then "$@"; else
    xvfb-run -a -s "-screen 0 1600x1000x24" "$@"; fi
}

cmd=${1:-}; shift || true
case "$cmd" in
  demo) need_system; need_venv; exec .venv/bin/napari-uspio demo "$@" ;;
  test) need_system; need_venv; lint; headless .venv/bin/python -m pytest "$@" ;;
  lint) need_venv; lint ;;
  bench) need_system; need_venv; headless .venv/bin/python benchmarks/run_all.py "$@" ;;
  *) echo "usage: scripts/dev.sh demo|test|lint|bench [args]" >&2; exit 2 ;;
esac
