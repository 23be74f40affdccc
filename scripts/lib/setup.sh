# Shared by scripts/test and scripts/drill: make a fresh Debian/Ubuntu machine ready. Sourced, not run.
# Idempotent: on a prepared machine it only checks.

failback_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${FAILBACK_VENV:-$failback_root/.venv}"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "error: '$*' needs root and sudo is not available" >&2; return 1; fi
}

ensure_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "== installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "error: failback needs Python 3.11 or newer; $python is $("$python" --version 2>&1)" >&2
    return 1
  fi
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv" || { ensure_debian_packages python3-venv && "$python" -m venv "$venv"; }
  fi
  local stamp="$venv/.failback-installed"
  if [ ! -f "$stamp" ] || [ "$failback_root/pyproject.toml" -nt "$stamp" ]; then
    echo "== installing failback and its test tools into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$failback_root[test]"
    touch "$stamp"
  fi
  export PATH="$venv/bin:$PATH"
}

# Start the local PostgreSQL cluster (Debian's postgresql package) and export a URL for the store tests.
# The role has no password: it authenticates over the Unix socket as the invoking OS user.
ensure_postgres() {
  local cluster
  cluster="$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}')"
  if [ -z "$cluster" ]; then echo "error: no PostgreSQL cluster (apt-get install postgresql)" >&2; return 1; fi
  # shellcheck disable=SC2086
  as_root pg_ctlcluster $cluster start 2>/dev/null || true
  local user
  user="$(id -un)"
  as_root su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$user'\"" | grep -q 1 \
    || as_root su postgres -c "psql -qc 'CREATE ROLE \"$user\" LOGIN CREATEDB'"
  export FAILBACK_TEST_PG_URL="postgresql://$user@/postgres?host=/var/run/postgresql"
}
