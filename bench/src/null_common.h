// What the two null readers (null_nflog.c, null_nfqueue.c) share: the stop flag and its
// signals, the one-line fatal error, the netfilter socket with a forced receive buffer, a
// configuration message sent with its acknowledgement awaited, and the byte output of the
// floor reader (-w FILE -b BYTES). Each reader defines `program` (its name, for messages)
// before including this file.
#ifndef NFCAP_BENCH_NULL_COMMON_H
#define NFCAP_BENCH_NULL_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static void die(const char* what) {
    fprintf(stderr, "%s: %s: %s\n", program, what, strerror(errno));
    exit(1);
}

// Sets `stopping` on SIGTERM, SIGINT, or after `seconds`. No SA_RESTART: a blocked receive
// returns EINTR, and the loop sees the flag.
static void stop_on_signal_or_after(long seconds) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm((unsigned)seconds);
}

// A bound NETLINK_NETFILTER socket with a receive buffer of `rcvbuf` bytes (SO_RCVBUFFORCE).
static struct mnl_socket* open_netfilter_socket(long rcvbuf) {
    struct mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!nl) {
        die("cannot open a netfilter netlink socket");
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        die("cannot bind the netlink socket");
    }
    const int want = (int)rcvbuf;
    if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0) {
        die("SO_RCVBUFFORCE");
    }
    return nl;
}

// Sends one configuration message and waits for the kernel's acknowledgement; `what` names
// the subsystem in errors ("NFLOG", "NFQUEUE").
static void configure(struct mnl_socket* nl, struct nlmsghdr* nlh, uint32_t seq, const char* what) {
    char ack[MNL_SOCKET_BUFFER_SIZE];
    char message[64];
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        snprintf(message, sizeof message, "cannot send the %s configuration", what);
        die(message);
    }
    const ssize_t n = mnl_socket_recvfrom(nl, ack, sizeof ack);
    if (n < 0) {
        snprintf(message, sizeof message, "no answer to the %s configuration", what);
        die(message);
    }
    if (mnl_cb_run(ack, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0) {
        snprintf(message, sizeof message, "the kernel refused the %s configuration", what);
        die(message);
    }
}

// The floor reader's default write size: nfcap's own (flush_threshold, src/io/recorder.cpp),
// bytes written while still in the core's cache. From a 1 MiB buffer the same bytes cost the
// floor up to five times as much kernel time in the copy into the page cache (bench/RESULTS.md).
enum { floor_write_size = 256 << 10 };

// The floor reader's output: for each record, `milli_per_record` / 1000 bytes (the size nfcap
// gives the same record, measured by the benchmark, so fractional) go into a large buffer,
// which goes to the file in write() calls of `capacity` bytes. A record's slot starts with its
// payload (as much as fits) and the rest is whatever the buffer held: the cost is that of
// copying the payload and of moving the bytes to the file system, not of formatting them.
// Fractions of a byte carry over from record to record, so N records write
// floor(N * milli_per_record / 1000) bytes in all.
struct byte_output {
    int fd; // -1: nothing is written (the plain null reader)
    char* buf;
    size_t capacity, used;
    unsigned long long milli_per_record, carried_milli, written, writes;
};

// Parses "171.25" (bytes per record, up to three decimals) into thousandths; -1 when invalid.
static long long parse_milli(const char* text) {
    char* end = NULL;
    const double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v > 0) || v > 1e6) {
        return -1;
    }
    return (long long)(v * 1000.0 + 0.5);
}

// Opens `path` (created or truncated) for a floor reader, or sets `out` to write nothing when
// `path` is NULL. Exits with a message on failure.
static void open_byte_output(struct byte_output* out, const char* path, long long milli,
                             size_t capacity) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (!path) {
        return;
    }
    out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out->fd < 0) {
        die("cannot open the output file");
    }
    out->buf = calloc(1, capacity); // touched once here, so that no page fault lands in the loop
    if (!out->buf) {
        die("malloc");
    }
    out->capacity = capacity;
    out->milli_per_record = (unsigned long long)milli;
}

// Writes the whole buffer, retrying on EINTR and looping on short writes.
static void flush_byte_output(struct byte_output* out) {
    size_t done = 0;
    while (done < out->used) {
        const ssize_t n = write(out->fd, out->buf + done, out->used - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("write");
        }
        done += (size_t)n;
        out->writes++;
    }
    out->written += out->used;
    out->used = 0;
}

// Appends one record's bytes (its payload first, then filler up to its share of bytes).
static void output_record(struct byte_output* out, const void* payload, size_t payload_len) {
    if (out->fd < 0) {
        return;
    }
    out->carried_milli += out->milli_per_record;
    size_t size = (size_t)(out->carried_milli / 1000);
    out->carried_milli %= 1000;
    size_t copied = payload_len < size ? payload_len : size;
    while (size > 0) {
        if (out->used == out->capacity) {
            flush_byte_output(out);
        }
        size_t room = out->capacity - out->used;
        size_t take = size < room ? size : room;
        if (copied > 0) {
            const size_t n = copied < take ? copied : take;
            memcpy(out->buf + out->used, payload, n);
            payload = (const char*)payload + n;
            copied -= n;
        }
        out->used += take;
        size -= take;
    }
}

// Writes what is left and closes the file (no fsync: nfcap does not sync either).
static void close_byte_output(struct byte_output* out) {
    if (out->fd < 0) {
        return;
    }
    flush_byte_output(out);
    if (close(out->fd) != 0) {
        die("close");
    }
    out->fd = -1;
    free(out->buf);
}

#endif
