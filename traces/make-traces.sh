#!/bin/sh
# Writes the shipped Mahimahi traces (one line per 1500-byte delivery opportunity, its time in
# ms; the trace loops after its last line). Deterministic: run it again, get the same files.
#   stepped.trace   12, 24, 6 Mbit/s for 2 s each (period 6 s: mean 14 Mbit/s)
#   onoff.trace     24 Mbit/s for 1 s, then nothing for 0.5 s (period 1.5 s: mean 16 Mbit/s)
#   variable.trace  a rate that wanders between 2 and 30 Mbit/s every 100 ms (a random walk
#                   from a fixed seed; period 10 s)
set -eu
cd "$(dirname "$0")"
# ops(rate_mbit, from_ms, to_ms): opportunities spread evenly over [from, to)
awk 'function ops(r, a, b,   n, i) { n = r * 1e6 / 8 / 1500 * (b - a) / 1000;
                                     for (i = 1; i <= n; i++) print int(a + i * (b - a) / n + 0.5) }
     BEGIN { ops(12, 0, 2000); ops(24, 2000, 4000); ops(6, 4000, 6000) }' >stepped.trace
awk 'function ops(r, a, b,   n, i) { n = r * 1e6 / 8 / 1500 * (b - a) / 1000;
                                     for (i = 1; i <= n; i++) print int(a + i * (b - a) / n + 0.5) }
     BEGIN { ops(24, 0, 1000); print 1500 }' >onoff.trace
awk 'function ops(r, a, b,   n, i) { n = int(r * 1e6 / 8 / 1500 * (b - a) / 1000 + 0.5);
                                     for (i = 1; i <= n; i++) print int(a + i * (b - a) / n + 0.5) }
     BEGIN { s = 12345; r = 12
             for (t = 0; t < 10000; t += 100) {
                 s = (s * 1103515245 + 12345) % 2147483648; r += (s / 2147483648 - 0.5) * 8
                 if (r < 2) r = 2; if (r > 30) r = 30
                 ops(r, t, t + 100) }
             print 10000 }' >variable.trace
wc -l stepped.trace onoff.trace variable.trace
