#!/bin/sh
# Installs every Debian package mplab needs, idempotently.
# Usage: scripts/install-deps.sh [--check]   (--check: exit 1 if something is missing, install nothing)
# Never installs pcp: its post-install step fails without systemd and leaves dpkg broken.
set -eu

PKGS="build-essential pkg-config make gcc clang llvm libclang-rt-14-dev clang-format \
libssl-dev openssl libmnl-dev libcmocka-dev \
iproute2 iputils-ping ethtool tcpdump procps psmisc \
curl iperf3 mptcpize gnuplot-nox jq python3 chromium openssh-client openssh-server"
# chromium: tests/e2e/report_browser.sh looks at the HTML report in a headless browser (it
# skips without it)

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "missing packages:$missing" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing; run as root (or: sudo $0)" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
# openssh-server is only for tests/e2e/hosts_ssh.sh (sshd inside namespaces the test makes):
# no system sshd may start listening, so services are not started while installing (policy-rc.d)
# and the package's own sshd is stopped and disabled afterwards.
prc=/usr/sbin/policy-rc.d
prc_made=0
if [ ! -e "$prc" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc" && prc_made=1
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || { [ "$prc_made" = 0 ] || rm -f "$prc"; exit 1; }
[ "$prc_made" = 0 ] || rm -f "$prc"
case " $missing " in
*" openssh-server "*)
    if command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
    fi
    [ -x /etc/init.d/ssh ] && /etc/init.d/ssh stop >/dev/null 2>&1 || true
    ;;
esac
