// What the two null readers (null_nflog.c, null_nfqueue.c) share: the stop flag and its
// signals, the one-line fatal error, the netfilter socket with a forced receive buffer, and a
// configuration message sent with its acknowledgement awaited. Each reader defines
// `program` (its name, for messages) before including this file.
#ifndef NFCAP_BENCH_NULL_COMMON_H
#define NFCAP_BENCH_NULL_COMMON_H

#include <errno.h>
#include <libmnl/libmnl.h>
#include <signal.h>
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

#endif
