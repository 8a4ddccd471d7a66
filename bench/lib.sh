# Shared by bench/run.sh, bench/scale.sh and bench/ratio.sh (sourced, not run).

# bench_packages PKG...: installs the Debian packages that are missing.
bench_packages() {
    local missing=() p
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
}

# bench_prov ROOT: PROV as given in the environment, or else a release build of ROOT's prov
# (--no-default-features: the AWS SDK is not needed), built now.
bench_prov() {
    if [ -z "${PROV:-}" ]; then
        (cd "$1" && cargo build --release --no-default-features -q --bin prov)
        PROV="$1/target/release/prov"
    fi
}

# bench_ansible_venv WORK: ansible-core 2.19 in WORK/venv, the reference every benchmark uses.
# The system python3 (Debian's, with its venv module): ansible-core 2.19 needs Python >= 3.11.
bench_ansible_venv() {
    if [ ! -x "$1/venv/bin/ansible-playbook" ]; then
        rm -rf "$1/venv"
        /usr/bin/python3 -m venv "$1/venv"
        "$1/venv/bin/pip" install -q --disable-pip-version-check 'ansible-core>=2.19,<2.20'
    fi
}
