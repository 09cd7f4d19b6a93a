// runstat: runs one command and reports what it cost, measured by the kernel.
//
//   runstat -o OUT [-p PIDFILE] [-t SECONDS] -- COMMAND [ARGS...]
//
// Starts COMMAND as a child, writes the child's pid to PIDFILE (so that the benchmark can watch
// its CPU time in /proc while it runs), forwards SIGTERM and SIGINT to it, and kills it with
// SIGKILL when it is still running after SECONDS (default 600): every run is bounded in time.
// When the child ends, one line goes to OUT:
//
//   utime=U stime=S maxrss_kb=K wall=W status=X timed_out=0|1
//
// U and S are the child's user and system CPU seconds and K its peak resident set in KiB, all
// from wait4()'s rusage (threads included); W is the wall-clock time from fork to exit; X the exit
// status, or 128+signal when a signal ended it. runstat itself exits 0 once OUT is written, 1
// when it could not run the command, 2 on a bad command line.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t timed_out;

static void forward(int sig) {
    if (child_pid > 0) {
        kill((pid_t)child_pid, sig);
    }
}

static void on_alarm(int sig) {
    (void)sig;
    timed_out = 1;
    if (child_pid > 0) {
        kill((pid_t)child_pid, SIGKILL);
    }
}

static double seconds(const struct timeval* tv) {
    return (double)tv->tv_sec + (double)tv->tv_usec * 1e-6;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int usage(void) {
    fprintf(stderr, "usage: runstat -o OUT [-p PIDFILE] [-t SECONDS] -- COMMAND [ARGS...]\n");
    return 2;
}

int main(int argc, char** argv) {
    const char* out_path = NULL;
    const char* pid_path = NULL;
    long limit = 600;
    int c;
    while ((c = getopt(argc, argv, "+o:p:t:")) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'p':
            pid_path = optarg;
            break;
        case 't':
            limit = strtol(optarg, NULL, 10);
            break;
        default:
            return usage();
        }
    }
    if (!out_path || optind >= argc || limit <= 0 || limit > 86400) {
        return usage();
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = forward; // no SA_RESTART: wait4 returns EINTR and is simply called again
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);

    const double start = now();
    const pid_t pid = fork();
    if (pid < 0) {
        perror("runstat: fork");
        return 1;
    }
    if (pid == 0) {
        // The child starts with default dispositions (a shell's `&` may have ignored SIGINT).
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "runstat: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    child_pid = pid;
    alarm((unsigned)limit);
    if (pid_path) {
        FILE* f = fopen(pid_path, "w");
        if (f) {
            fprintf(f, "%d\n", (int)pid);
            fclose(f);
        }
    }

    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("runstat: wait4");
            return 1;
        }
    }
    const double wall = now() - start;
    alarm(0);

    FILE* out = fopen(out_path, "w");
    if (!out) {
        perror("runstat: cannot write the report");
        return 1;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(out, "utime=%.6f stime=%.6f maxrss_kb=%ld wall=%.6f status=%d timed_out=%d\n",
            seconds(&ru.ru_utime), seconds(&ru.ru_stime), ru.ru_maxrss, wall, code,
            (int)timed_out);
    fclose(out);
    return 0;
}
