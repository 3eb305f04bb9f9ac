# Sourced by scripts/run and scripts/test: create or update .venv with pinned packages.
# Usage: ensure_venv [dev]

pick_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "stockflow needs Python 3.11 or newer (python3 is $(python3 --version 2>&1))" >&2
  return 1
}

ensure_venv() {
  local extra="${1:-}" python stamp want
  if [ ! -x .venv/bin/python ]; then
    python=$(pick_python)
    echo "==> creating .venv with $("$python" --version)"
    "$python" -m venv .venv
  fi
  want="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-${extra:-run}"
  stamp=.venv/.stockflow-installed
  if [ -f "$stamp" ] && grep -qx -- "$want" "$stamp" 2>/dev/null; then
    return 0
  fi
  echo "==> installing stockflow${extra:+ with $extra tools} into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24" >/dev/null
  if [ "$extra" = "dev" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
  else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e .
  fi
  # A dev install also serves scripts/run; remember both.
  if [ "$extra" = "dev" ]; then
    printf '%s\n%s\n' "$want" "${want%-dev}-run" >"$stamp"
  else
    printf '%s\n' "$want" >"$stamp"
  fi
}
