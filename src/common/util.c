/*
 * util.c — see util.h.
 */
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *progname = "mplab";
static int verbosity = 1;

void
mpl_set_progname(const char *name)
{
    progname = name;
}

const char *
mpl_progname(void)
{
    return progname;
}

void
mpl_set_verbosity(int level)
{
    verbosity = level;
}

int
mpl_verbosity(void)
{
    return verbosity;
}

static void
vlog(const char *level, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s: %s", progname, level);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    size_t len = strlen(line);
    if (len + 1 < sizeof(line)) {
        line[len++] = '\n';
        line[len] = '\0';
    }
    /* one write() so lines from concurrent processes do not interleave */
    (void)mpl_write_all(STDERR_FILENO, line, len);
}

void
mpl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("error: ", fmt, ap);
    va_end(ap);
}

int
mpl_usage_error(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mpl_err("%s (see '%s --help')", msg, progname);
    return 2;
}

int
mpl_getopt_error(char **argv, const struct option *opts)
{
    const char *arg = argv[optind - 1];
    if (optopt == 0) /* unknown or ambiguous long option: getopt has skipped it */
        return mpl_usage_error("unrecognized option '%.*s'", (int)strcspn(arg, "="), arg);
    if (!strncmp(arg, "--", 2)) {
        size_t n = strcspn(arg + 2, "=");
        for (const struct option *o = opts; o->name; o++) {
            if (strlen(o->name) != n || strncmp(o->name, arg + 2, n) != 0)
                continue;
            if (arg[2 + n] == '=' && o->has_arg == no_argument)
                return mpl_usage_error("option '--%s' does not take an argument", o->name);
            if (arg[2 + n] == '\0' && o->has_arg == required_argument)
                return mpl_usage_error("option '--%s' requires an argument", o->name);
        }
    }
    for (const struct option *o = opts; o->name; o++)
        if (o->val == optopt && o->has_arg == required_argument)
            return mpl_usage_error("option '-%c' requires an argument", optopt);
    if (optopt > ' ' && optopt < 127)
        return mpl_usage_error("invalid option '-%c'", optopt);
    return mpl_usage_error("invalid option '%s'", arg);
}

int
mpl_getopt(int argc, char **argv, const char *shortopts, const struct option *opts, void (*usage)(FILE *),
           int *status)
{
    int opt = getopt_long(argc, argv, shortopts, opts, NULL);
    if (opt == 'h') {
        usage(stdout);
        *status = 0;
        return MPL_OPT_EXIT;
    }
    if (opt == '?' || opt == ':') {
        *status = mpl_getopt_error(argv, opts);
        return MPL_OPT_EXIT;
    }
    return opt;
}

int
mpl_opt_seconds(const char *name, const char *arg, double *seconds)
{
    uint64_t ns;
    if (mpl_parse_duration(arg, &ns) != 0 || ns == 0)
        return mpl_usage_error("bad --%s '%s'", name, arg);
    *seconds = (double)ns / 1e9;
    return 0;
}

int
mpl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int
mpl_need_root(void)
{
    if (geteuid() != 0) {
        mpl_err("needs root (network namespaces)");
        return -1;
    }
    return 0;
}

int
mpl_bad_arg(const char *arg, const char *const *with_value)
{
    for (; with_value && *with_value; with_value++)
        if (!strcmp(arg, *with_value))
            return mpl_usage_error("option '%s' requires an argument", arg);
    if (arg[0] == '-')
        return mpl_usage_error("unrecognized option '%s'", arg);
    return mpl_usage_error("unexpected argument '%s'", arg);
}

void
mpl_warn(const char *fmt, ...)
{
    if (verbosity < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("warning: ", fmt, ap);
    va_end(ap);
}

void
mpl_info(const char *fmt, ...)
{
    if (verbosity < 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void
mpl_debug(const char *fmt, ...)
{
    if (verbosity < 2)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog("debug: ", fmt, ap);
    va_end(ap);
}

uint64_t
mpl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double
mpl_now_s(void)
{
    return (double)mpl_now_ns() / 1e9;
}

void
mpl_iso8601_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
mpl_parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
mpl_parse_double(const char *s, double *out)
{
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int
mpl_parse_pct(const char *s, double *pct)
{
    char buf[64];
    double v;
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    if (buf[n - 1] == '%')
        buf[n - 1] = '\0';
    if (mpl_parse_double(buf, &v) != 0 || v < 0 || v > 100)
        return -1;
    *pct = v;
    return 0;
}

/* Splits "12.5unit" into the number and the unit suffix. */
static int
split_number(const char *s, double *num, const char **unit)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0)
        return -1;
    *num = v;
    *unit = end;
    return 0;
}

int
mpl_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1},
        {"b", 1},
        {"k", 1e3},
        {"kb", 1e3},
        {"m", 1e6},
        {"mb", 1e6},
        {"g", 1e9},
        {"gb", 1e9},
        {"t", 1e12},
        {"tb", 1e12},
        {"kib", 1024.},
        {"mib", 1048576.0},
        {"gib", 1073741824.},
        {"tib", 1099511627776.},
    };
    double v;
    const char *unit;
    if (split_number(s, &v, &unit) != 0)
        return -1;
    for (size_t i = 0; i < MPL_ARRAY_SIZE(units); i++) {
        if (strcasecmp(unit, units[i].suffix) == 0) {
            double r = v * units[i].mult;
            if (r > 1.8e19 || r != floor(r))
                return -1;
            *out = (uint64_t)r;
            return 0;
        }
    }
    return -1;
}

int
mpl_parse_rate(const char *s, uint64_t *bps)
{
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1},       {"bit", 1},      {"bps", 1},      {"kbit", 1e3},   {"kbps", 1e3}, {"mbit", 1e6},
        {"mbps", 1e6}, {"gbit", 1e9},   {"gbps", 1e9},   {"k", 1e3},      {"m", 1e6},    {"g", 1e9},
        {"bit/s", 1},  {"kbit/s", 1e3}, {"mbit/s", 1e6}, {"gbit/s", 1e9},
    };
    double v;
    const char *unit;
    if (split_number(s, &v, &unit) != 0)
        return -1;
    for (size_t i = 0; i < MPL_ARRAY_SIZE(units); i++) {
        if (strcasecmp(unit, units[i].suffix) == 0) {
            double r = v * units[i].mult;
            if (r > 1e15)
                return -1;
            *bps = (uint64_t)llround(r);
            return 0;
        }
    }
    return -1;
}

int
mpl_parse_duration(const char *s, uint64_t *ns)
{
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {
        {"", 1e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9},
    };
    double v;
    const char *unit;
    if (split_number(s, &v, &unit) != 0)
        return -1;
    for (size_t i = 0; i < MPL_ARRAY_SIZE(units); i++) {
        if (strcasecmp(unit, units[i].suffix) == 0) {
            double r = v * units[i].mult;
            if (r > 1e18)
                return -1;
            *ns = (uint64_t)llround(r);
            return 0;
        }
    }
    return -1;
}

const char *
mpl_fmt_bytes(char *buf, size_t len, double bytes)
{
    static const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    size_t i = 0;
    while (bytes >= 1000 && i + 1 < MPL_ARRAY_SIZE(u)) {
        bytes /= 1000;
        i++;
    }
    snprintf(buf, len, i == 0 ? "%.0f %s" : "%.2f %s", bytes, u[i]);
    return buf;
}

const char *
mpl_fmt_rate(char *buf, size_t len, double bps)
{
    if (bps >= 1e9)
        snprintf(buf, len, "%.2f Gbit/s", bps / 1e9);
    else if (bps >= 1e6)
        snprintf(buf, len, "%.1f Mbit/s", bps / 1e6);
    else if (bps >= 1e3)
        snprintf(buf, len, "%.1f kbit/s", bps / 1e3);
    else
        snprintf(buf, len, "%.0f bit/s", bps);
    return buf;
}

static void
set_err(char *err, size_t errlen, const char *msg, const char *s)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s: '%s'", msg, s);
}

int
mpl_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
               size_t errlen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *port_str = NULL;
    size_t hlen;

    memset(ss, 0, sizeof(*ss));
    if (s == NULL || *s == '\0') {
        set_err(err, errlen, "empty address", "");
        return -1;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            set_err(err, errlen, "missing ']' in address", s);
            return -1;
        }
        hlen = (size_t)(close - s - 1);
        if (close[1] == ':')
            port_str = close + 2;
        else if (close[1] != '\0') {
            set_err(err, errlen, "junk after ']' in address", s);
            return -1;
        }
        if (hlen >= sizeof(host)) {
            set_err(err, errlen, "address too long", s);
            return -1;
        }
        memcpy(host, s + 1, hlen);
    } else {
        const char *first = strchr(s, ':'), *last = strrchr(s, ':');
        if (first != NULL && first == last) { /* IPv4:port */
            hlen = (size_t)(first - s);
            port_str = first + 1;
        } else { /* bare IPv4, or bare IPv6 */
            hlen = strlen(s);
        }
        if (hlen >= sizeof(host)) {
            set_err(err, errlen, "address too long", s);
            return -1;
        }
        memcpy(host, s, hlen);
    }
    host[hlen] = '\0';

    long port = default_port;
    if (port_str != NULL) {
        uint64_t p;
        if (mpl_parse_u64(port_str, &p) != 0 || p > 65535) {
            set_err(err, errlen, "bad port in address", s);
            return -1;
        }
        port = (long)p;
    } else if (default_port < 0) {
        set_err(err, errlen, "missing port in address (ADDR:PORT)", s);
        return -1;
    }

    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*sin6);
        return 0;
    }
    set_err(err, errlen, "not a numeric IPv4/IPv6 address", host);
    return -1;
}

const char *
mpl_fmt_addr(const struct sockaddr *sa, int with_port, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        if (with_port)
            snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
        else
            snprintf(buf, len, "%s", host);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        if (with_port)
            snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
        else
            snprintf(buf, len, "%s", host);
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}

int
mpl_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
mpl_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

void
mpl_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int
mpl_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO);
}
