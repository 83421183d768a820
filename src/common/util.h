/*
 * util.h — small helpers shared by every mplab subcommand: logging, time, parsing of the
 * units people type (sizes, rates, durations), socket addresses.
 *
 * Error convention of the application (docs/DESIGN.md): functions return 0 on success and -1
 * on failure, with the reason in the caller's (char *err, size_t errlen) where they take one;
 * parsers never abort on bad input. Commands exit 0, 1 (the operation failed) or 2 (usage).
 */
#ifndef MPLAB_UTIL_H
#define MPLAB_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define MPL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- logging ------------------------------------------------------------------------ */

/* Program name used as prefix of every message ("mplab serve"). */
void mpl_set_progname(const char *name);
const char *mpl_progname(void);
/* Verbosity: 0 quiet (errors only), 1 normal, 2 verbose/debug. */
void mpl_set_verbosity(int level);
int mpl_verbosity(void);

/* One-line messages on stderr, prefixed with the program name. */
void mpl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mpl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mpl_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mpl_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ---- command line (every subcommand of src/cmd) --------------------------------------- */

/* Usage errors, the one way a command reports them: one line "PROG: error: MSG (see 'PROG
 * --help')" on stderr, PROG being mpl_progname() ("mplab get"). Returns 2, the exit status
 * of bad usage, so that commands can write: return mpl_usage_error("no URL given"); */
int mpl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For getopt_long's '?' / ':' result (main.c sets opterr = 0): names the bad option
 * (unrecognized, missing argument, argument not allowed) with mpl_usage_error; returns 2. */
struct option;
int mpl_getopt_error(char **argv, const struct option *opts);
/* getopt_long plus what every command does alike: returns the next option, -1 after the last
 * one, or MPL_OPT_EXIT when the command is to exit with *status: 0 after -h/--help ('h', which
 * must be in opts, printed usage on stdout), 2 after a bad option (mpl_getopt_error).
 * The caller sets optind = 1 before the first call. */
#define MPL_OPT_EXIT (-2)
int mpl_getopt(int argc, char **argv, const char *shortopts, const struct option *opts, void (*usage)(FILE *),
               int *status);
/* For hand-written parsers: arg was not accepted. "option 'X' requires an argument" when arg
 * is one of the NULL-terminated with_value (it came last), "unrecognized option" when it
 * starts with '-', else "unexpected argument". Returns 2. */
int mpl_bad_arg(const char *arg, const char *const *with_value);
/* The value of a --NAME option that takes a positive duration ("5s", "250ms", "2.5"), in
 * seconds. Returns 0, or mpl_usage_error's 2 ("bad --NAME 'ARG'"). */
int mpl_opt_seconds(const char *name, const char *arg, double *seconds);
/* Returns 1 when argv[1..] holds -h or --help (before any "--"). */
int mpl_wants_help(int argc, char **argv);
/* Commands that build namespaces: returns 0 as root, else says "needs root (network
 * namespaces)" and returns -1. */
int mpl_need_root(void);

/* ---- time --------------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds / seconds. */
uint64_t mpl_now_ns(void);
double mpl_now_s(void);
/* CLOCK_REALTIME as an ISO-8601 UTC string "2026-11-23T18:46:00Z" into buf. */
void mpl_iso8601_now(char *buf, size_t len);

/* ---- parsing ------------------------------------------------------------------------ */

/* "1500", "10k", "100M", "1G", "64KiB", "10GB" -> bytes. Decimal k/M/G/T are powers of 1000,
 * KiB/MiB/GiB/TiB powers of 1024. Returns 0, or -1 on bad syntax or overflow. */
int mpl_parse_size(const char *s, uint64_t *out);
/* "100mbit", "1gbit", "500kbit", "10Mbit/s", "100" (bit/s) -> bit/s. Returns 0 or -1. */
int mpl_parse_rate(const char *s, uint64_t *bps);
/* "5s", "250ms", "100us", "2.5" (seconds), "1m" (minute) -> nanoseconds. Returns 0 or -1. */
int mpl_parse_duration(const char *s, uint64_t *ns);
/* Strict integer / double parsing of the whole string. Returns 0 or -1. */
int mpl_parse_u64(const char *s, uint64_t *out);
int mpl_parse_double(const char *s, double *out);
/* A percentage from 0 to 100, "2" or "2%". Returns 0 or -1. */
int mpl_parse_pct(const char *s, double *pct);

/* Human formatting into buf: "1.50 GB", "93.4 Mbit/s". Returns buf. */
const char *mpl_fmt_bytes(char *buf, size_t len, double bytes);
const char *mpl_fmt_rate(char *buf, size_t len, double bits_per_s);

/* ---- addresses ---------------------------------------------------------------------- */

/* Parses "1.2.3.4:80", "[::1]:443", "::1" or "1.2.3.4" (port = default_port; with
 * default_port < 0 the port is mandatory). Numeric addresses only (no DNS).
 * Returns 0, or -1 with a reason in err (when err is not NULL). */
int mpl_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss, socklen_t *sslen, char *err,
                   size_t errlen);
/* Formats "1.2.3.4:80" or "[::1]:443" (with_port) or the bare address. Returns buf. */
const char *mpl_fmt_addr(const struct sockaddr *sa, int with_port, char *buf, size_t len);

/* ---- misc --------------------------------------------------------------------------- */

/* Writes all of buf to fd (blocking), retrying on EINTR. Returns 0 or -1 (errno set). */
int mpl_write_all(int fd, const void *buf, size_t len);
/* Makes fd non-blocking / close-on-exec. Returns 0 or -1. */
int mpl_set_nonblock(int fd);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void mpl_hex(const uint8_t *in, size_t len, char *out);
/* Returns 1 when stderr is a terminal (progress displays are shown only then). */
int mpl_stderr_is_tty(void);

#endif
