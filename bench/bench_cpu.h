/*
 * bench_cpu.h — CPU time of this process (user + system), for the benchmarks in bench/.
 */
#ifndef BENCH_CPU_H
#define BENCH_CPU_H

#include <sys/resource.h>

static inline double
bench_cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

#endif
