# Sourced by the checks that use Python tools: the virtual environment of e2e/requirements.txt
# under ~/.cache (TOLLGATE_VENV overrides), made or brought up to date whenever the pinned
# requirements change. Sets $venv.
venv="${TOLLGATE_VENV:-${HOME:-/root}/.cache/tollgate-venv}"
if ! cmp -s e2e/requirements.txt "$venv/.requirements" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r e2e/requirements.txt
  cp e2e/requirements.txt "$venv/.requirements"
fi
