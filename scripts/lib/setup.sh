# Shared set-up for scripts/test and scripts/demo. Source it, then call: packgate_setup [test]
# Installs system packages (as root, or prints the command), creates .venv, installs the project.

PACKGATE_APT_RUNTIME=(libzbar0 libusb-1.0-0 fonts-noto-cjk)
PACKGATE_APT_TEST=(chromium postgresql systemd)
PACKGATE_APT_BUILD=(gcc python3-dev python3-venv linux-libc-dev)

_packgate_missing_debs() {
    local pkg missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    echo "${missing[@]:-}"
}

# apt-get that waits (up to 10 min) while another apt or dpkg holds its lock (unattended upgrades, a second
# set-up): DPkg::Lock::Timeout covers dpkg's locks; `apt-get update` fails at once on its lists lock, so that
# failure is retried. Output is kept from the screen unless apt fails or warns.
PACKGATE_APT_LOCK_WAIT_S=600
_packgate_apt_get() {
    local waited=0 out
    while true; do
        if out="$(apt-get -o DPkg::Lock::Timeout="$PACKGATE_APT_LOCK_WAIT_S" "$@" 2>&1)"; then
            grep -E '^(W|E):' <<<"$out" >&2 || true
            return 0
        fi
        if [[ "$out" != *"Could not get lock"* ]] || (( waited >= PACKGATE_APT_LOCK_WAIT_S )); then
            echo "$out" >&2
            return 1
        fi
        (( waited % 60 == 0 )) && echo "setup: apt is busy (another apt or dpkg holds its lock); waiting" >&2
        sleep 5
        waited=$((waited + 5))
    done
}

# The distribution's interpreter first: Debian builds it with profile-guided and link-time optimisation, and the
# suite's Python spends 3-20 % less CPU on it than on a plain source build (pyenv's default) found earlier on PATH.
_packgate_python() {
    local candidate
    for candidate in /usr/bin/python3 python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "packgate needs Python >= 3.11; install it (apt-get install python3 python3-venv)" >&2
    return 1
}

# The interpreter a .venv was made with (its pyvenv.cfg), resolved, or nothing.
_packgate_venv_python() {
    [[ -f .venv/pyvenv.cfg ]] || return 0
    local made
    made="$(sed -n 's/^executable = //p' .venv/pyvenv.cfg)"
    if [[ -n "$made" ]]; then readlink -f "$made"; fi
}

packgate_setup() {
    local want=("${PACKGATE_APT_RUNTIME[@]}" "${PACKGATE_APT_BUILD[@]}")
    [[ "${1:-}" == "test" ]] && want+=("${PACKGATE_APT_TEST[@]}")
    if command -v dpkg-query >/dev/null 2>&1; then
        local missing
        missing="$(_packgate_missing_debs "${want[@]}")"
        if [[ -n "${missing// /}" ]]; then
            if [[ "$(id -u)" == "0" ]]; then
                echo "setup: installing system packages: $missing"
                export DEBIAN_FRONTEND=noninteractive
                _packgate_apt_get update -qq
                # shellcheck disable=SC2086
                _packgate_apt_get install -y -qq --no-install-recommends $missing
            else
                echo "setup: missing system packages; run:  sudo apt-get install -y $missing" >&2
                return 1
            fi
        fi
    fi
    local py
    py="$(_packgate_python)"
    local want_py made_py
    want_py="$(readlink -f "$(command -v "$py")")"
    made_py="$(_packgate_venv_python)"
    if [[ -x .venv/bin/python && "$made_py" != "$want_py" ]]; then
        echo "setup: .venv was made with ${made_py:-an unknown interpreter}; making it again with $want_py"
        rm -rf .venv
    fi
    if [[ ! -x .venv/bin/python ]]; then
        echo "setup: creating .venv with $py"
        "$py" -m venv .venv
    fi
    local stamp=".venv/.packgate-installed"
    local extras=""
    [[ "${1:-}" == "test" ]] && extras="[test]"
    local digest
    digest="$(sha256sum pyproject.toml | cut -c1-16)${extras}"
    # an install with the test extras also serves the demo, so test and demo do not reinstall in turn
    if [[ ! -f "$stamp" ]] || ! { grep -qxF -- "$digest" "$stamp" ||
                                   { [[ -z "$extras" ]] && grep -qxF -- "${digest}[test]" "$stamp"; }; }; then
        echo "setup: installing packgate${extras} and its pinned dependencies into .venv"
        .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
        echo "$digest" >"$stamp"
    fi
}
