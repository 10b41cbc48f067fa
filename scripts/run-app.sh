#!/usr/bin/env bash
# Install what the app needs and launch it on the embedded defaults (SQLite file, bundled demo data).
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
install_project ""
exec "$ROOT/.venv/bin/trace2skill" ui "$@"
