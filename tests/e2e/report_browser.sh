#!/bin/sh
# The HTML report as a person sees it, in a real headless browser (Debian's chromium): for a
# one-point experiment with a long environment, the page is not blank, the summary table
# comes before the environment (which is collapsed in a <details>), and the single-point
# goodput plot labels its dots by series. Skips (77) when chromium or gnuplot cannot run.
. "$(dirname "$0")/lib.sh"
need_cmd chromium gnuplot python3

D="$T_TMP/exp"
mkdir -p "$D"
# meta.json: the environment, with 50 sysctls (the rows that used to fill the first screen)
{
    printf '{"scenario":{"name":"onepoint","title":"One point"},"date":"2026-12-02T00:00:00Z",'
    printf '"kernel":"Linux test","hostname":"vm","mplab_version":"0","backend":"forwarder",'
    printf '"openssl_version":"OpenSSL 3","seed":1,"repeat":1,"planned":4,"sysctls_client":{'
    i=1
    while [ $i -le 50 ]; do
        printf '%s"net.test.key%d":"%d"' "$([ $i = 1 ] || echo ,)" $i $i
        i=$((i + 1))
    done
    printf '},"parameters":{"protocols":"tcp tls mptcp tcpls","size":"10M"},"swept":[],"events":[],'
    printf '"failure":{},"points":[{"point":1,"label":"base"}]}\n'
} >"$D/meta.json"
h=run_id,point,label,rep,proto,path,links,share1_pct,split,rate,delay,loss,backup,fail,cc,size_bytes,status
h=$h,bytes,seconds,goodput_mbps,verified,cpu_client_s,cpu_server_s,stall_s,recover_s,mptcp,subflows,error,series
{
    echo "$h,direction"
    echo "p01-tcp-l1-r1,1,base,1,tcp,1,2,50,,40mbit,5ms,0,none,none,cubic,10000000,ok,10000000,4.2,19.0,1,0.1,0.1,,,-1,0,,tcp@l1,download"
    echo "p01-tcp-l2-r1,1,base,1,tcp,2,2,50,,40mbit,5ms,0,none,none,cubic,10000000,ok,10000000,4.2,19.1,1,0.1,0.1,,,-1,0,,tcp@l2,download"
    echo "p01-tls-r1,1,base,1,tls,0,2,50,,40mbit,5ms,0,none,none,cubic,10000000,ok,10000000,4.3,18.7,1,0.1,0.1,,,-1,0,,tls,download"
    echo "p01-mptcp-r1,1,base,1,mptcp,0,2,50,,40mbit,5ms,0,none,none,cubic,10000000,ok,10000000,2.2,36.4,1,0.1,0.1,,,1,2,,mptcp,download"
    echo "p01-tcpls-r1,1,base,1,tcpls,0,2,50,,40mbit,5ms,0,none,none,cubic,10000000,ok,10000000,2.3,35.1,1,0.1,0.1,,,-1,2,,tcpls,download"
} >"$D/runs.csv"
"$MPLAB" report "$D" >"$T_TMP/report.out" 2>&1 || fail "report: $(cat "$T_TMP/report.out")"
[ -s "$D/index.html" ] || fail "no index.html"
grep -q 'with labels' "$D/plots/goodput_by_point.gp" || fail "the one-point plot has no labels"

# chromium: as root it needs --no-sandbox; a profile of our own; no network
browser() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
        --user-data-dir="$T_TMP/profile" "$@" "file://$D/index.html" 2>>"$T_TMP/chromium.log"
}
browser --window-size=1200,2400 --screenshot="$T_TMP/shot.png" >/dev/null ||
    skip "chromium cannot run here: $(tail -n 2 "$T_TMP/chromium.log" | tr '\n' ' ')"
[ -s "$T_TMP/shot.png" ] || skip "chromium wrote no screenshot: $(tail -n 2 "$T_TMP/chromium.log" | tr '\n' ' ')"
browser --dump-dom >"$T_TMP/dom.html" || fail "chromium --dump-dom failed"
[ -s "$T_TMP/dom.html" ] || fail "empty DOM"

# the screenshot is not blank: its pixels vary (decoded here, PNG is zlib + row filters)
python3 - "$T_TMP/shot.png" <<'PY' || fail "screenshot looks blank"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        bpp = {2: 3, 6: 4}[ctype]
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
values = []
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 8 == 0:
        values.extend(line[0:stride:bpp * 4])
mean = sum(values) / len(values)
var = sum((v - mean) ** 2 for v in values) / len(values)
dark = sum(1 for v in values if v < 128) / len(values)
print("screenshot %dx%d: mean %.1f, variance %.1f, dark %.3f" % (w, h, mean, var, dark))
sys.exit(0 if var > 100 and dark > 0.005 else 1)
PY

# in the DOM: the summary before any plot, the plots before the environment, the environment
# collapsed (inside <details>, not open)
pos() { grep -b -o "$1" "$T_TMP/dom.html" | head -n 1 | cut -d: -f1; }
s=$(pos 'id="summary"')
p=$(pos 'id="goodput_by_point"')
e=$(pos 'id="environment"')
[ -n "$s" ] && [ -n "$e" ] && [ -n "$p" ] || fail "summary ($s), plot ($p) or environment ($e) missing in the DOM"
[ "$s" -lt "$p" ] || fail "the summary comes after the plots"
[ "$p" -lt "$e" ] || fail "the environment comes before the plots"
grep -q '<details id="environment">' "$T_TMP/dom.html" || fail "the environment is not a closed <details>"
k=$(pos 'net.test.key1<')
[ "$k" -gt "$e" ] || fail "a sysctl row is outside the environment section"
echo "ok"
