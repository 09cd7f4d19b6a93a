// null_nfqueue: the NFQUEUE "null reader", the floor every NFQUEUE tap is compared with.
//
//   null_nfqueue -n QUEUE [-R RCVBUF] [-Q MAXLEN] [-V VLEN] [-o] [-w FILE -b BYTES [-B BUFSIZE]]
//                [-d SECONDS]
//
// Binds one queue with nfcap's default queue settings (copy the whole packet, a 64 MiB receive
// buffer forced with SO_RCVBUFFORCE, fail-open, -o turns it off; and nfcap's default queue
// length, longer than the socket buffer can hold so that the socket overflows before the queue
// does: the receive buffer as SO_RCVBUF reads it back / 512 + 1, plus VLEN packets in hand; with
// a 64 MiB buffer, which the kernel doubles, 262,209; -Q sets another), then loops: recvmmsg()
// takes up to VLEN queued packets (default 64) in one call, each is parsed with
// libnetfilter_queue's nfq_nlmsg_parse, and ONE NFQNL_MSG_VERDICT_BATCH accepts every packet up
// to the highest id received. Without -w it records nothing: its cost is the price of receiving
// and accepting the packets, reinjection included, which no tap can avoid.
//   -w FILE -b BYTES  the floor reader: also writes BYTES bytes per packet (a decimal number, the
//             size nfcap gives a packet's record) to FILE, each packet's payload first, in write()
//             calls of BUFSIZE bytes (default 256 KiB, as nfcap writes), after the verdict, as
//             nfcap does
//
// Stops on SIGTERM or SIGINT, or after SECONDS (default 600), and prints one line on stdout:
//   records=N bytes=B lost=L enobufs=E recvs=R verdicts=V maxlen=Q written=W writes=X
// lost counts packet ids skipped (packets the kernel could not deliver). Packets the kernel let
// through because the queue was full (fail-open) take no id and show in no counter of this
// program: the benchmark compares records with the rule's own counter.
// Exit status: 0 after a clean stop, 1 on a setup error (message on stderr), 2 bad usage.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char* const program = "null_nfqueue";
#include "null_common.h"

struct counters {
    unsigned long long records, bytes, lost, enobufs, recvs, verdicts;
    uint32_t last_id; // 0: none yet (the kernel's ids start at 1)
};

// nfcap's default queue length (include/nfcap/loss.hpp, countable_queue_length): one message
// more than the socket buffer holds at 512 bytes each (the least one queued packet takes of it),
// plus the packets received but still without a verdict.
static long countable_queue_length(int fd, long in_hand) {
    int size = 0;
    socklen_t length = sizeof size;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, &length) != 0 || size < 0) {
        die("SO_RCVBUF");
    }
    const long long n = (long long)size / 512 + 1 + in_hand;
    return n > 0xffffffffLL ? 0xffffffffL : (long)n;
}

// Counts the packets of one datagram; returns the highest packet id seen in it (0 if none).
// The payload of the datagram's last packet is left in `*payload` (one packet per datagram).
static uint32_t count_datagram(const char* buf, size_t len, struct counters* c,
                               const void** payload, size_t* payload_len) {
    const struct nlmsghdr* nlh = (const struct nlmsghdr*)buf;
    int left = (int)len;
    uint32_t max_id = 0;
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
            NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET) {
            continue;
        }
        struct nlattr* attr[NFQA_MAX + 1];
        memset(attr, 0, sizeof attr);
        if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
            mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(struct nfqnl_msg_packet_hdr)) {
            continue;
        }
        struct nfqnl_msg_packet_hdr hdr;
        memcpy(&hdr, mnl_attr_get_payload(attr[NFQA_PACKET_HDR]), sizeof hdr);
        const uint32_t id = ntohl(hdr.packet_id);
        c->records++;
        if (attr[NFQA_PAYLOAD]) {
            *payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
            *payload_len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
            c->bytes += *payload_len;
        }
        if (c->last_id != 0 && id > c->last_id + 1) {
            c->lost += id - c->last_id - 1;
        }
        if (id > c->last_id) {
            c->last_id = id;
        }
        if (id > max_id) {
            max_id = id;
        }
    }
    return max_id;
}

int main(int argc, char** argv) {
    long queue = -1, rcvbuf = 64L << 20, maxlen = -1, vlen = 64, max_seconds = 600;
    long out_bufsize = floor_write_size;
    long long milli = 0;
    const char* out_path = NULL;
    int fail_open = 1;
    int opt;
    while ((opt = getopt(argc, argv, "n:R:Q:V:ow:b:B:d:")) != -1) {
        switch (opt) {
        case 'w':
            out_path = optarg;
            break;
        case 'b':
            milli = parse_milli(optarg);
            break;
        case 'B':
            out_bufsize = strtol(optarg, NULL, 10);
            break;
        case 'n':
            queue = strtol(optarg, NULL, 10);
            break;
        case 'R':
            rcvbuf = strtol(optarg, NULL, 10);
            break;
        case 'Q':
            maxlen = strtol(optarg, NULL, 10);
            break;
        case 'V':
            vlen = strtol(optarg, NULL, 10);
            break;
        case 'o':
            fail_open = 0;
            break;
        case 'd':
            max_seconds = strtol(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: null_nfqueue -n QUEUE [-R RCVBUF] [-Q MAXLEN] [-V VLEN] [-o] "
                            "[-w FILE -b BYTES [-B BUFSIZE]] [-d SECONDS]\n");
            return 2;
        }
    }
    if (queue < 0 || queue > 65535 || vlen < 1 || vlen > 1024 || max_seconds <= 0) {
        fprintf(stderr, "null_nfqueue: -n QUEUE (0..65535) is required; VLEN is 1..1024\n");
        return 2;
    }
    if (out_path && (milli <= 0 || out_bufsize < 4096)) {
        fprintf(stderr, "null_nfqueue: -w FILE needs -b BYTES (> 0 per packet); BUFSIZE >= 4096\n");
        return 2;
    }

    stop_on_signal_or_after(max_seconds);

    struct mnl_socket* nl = open_netfilter_socket(rcvbuf);
    const int fd = mnl_socket_get_fd(nl);

    char cfg[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr* nlh = nfq_nlmsg_put(cfg, NFQNL_MSG_CONFIG, (uint32_t)queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    configure(nl, nlh, 1, "NFQUEUE");

    nlh = nfq_nlmsg_put(cfg, NFQNL_MSG_CONFIG, (uint32_t)queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    if (maxlen < 0) {
        maxlen = countable_queue_length(fd, vlen);
    }
    nfq_nlmsg_cfg_put_qmaxlen(nlh, (uint32_t)maxlen);
    const uint32_t flags = fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
    configure(nl, nlh, 2, "NFQUEUE");

    // One slot per datagram, each large enough for a whole 64 KiB packet plus its attributes.
    const size_t slot = 65536 + 4096;
    char* bufs = malloc(slot * (size_t)vlen);
    struct iovec* iov = calloc((size_t)vlen, sizeof *iov);
    struct mmsghdr* msgs = calloc((size_t)vlen, sizeof *msgs);
    if (!bufs || !iov || !msgs) {
        die("malloc");
    }
    char verdict[MNL_SOCKET_BUFFER_SIZE];
    struct byte_output out;
    open_byte_output(&out, out_path, milli, (size_t)out_bufsize);
    const void** payloads = calloc((size_t)vlen, sizeof *payloads);
    size_t* payload_lens = calloc((size_t)vlen, sizeof *payload_lens);
    unsigned long long* counted = calloc((size_t)vlen, sizeof *counted);
    if (!payloads || !payload_lens || !counted) {
        die("malloc");
    }
    struct counters c;
    memset(&c, 0, sizeof c);

    while (!stopping) {
        for (long i = 0; i < vlen; i++) {
            iov[i].iov_base = bufs + slot * (size_t)i;
            iov[i].iov_len = slot;
            memset(&msgs[i], 0, sizeof msgs[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // MSG_WAITFORONE: block for the first datagram, then take what is already there.
        const int n = recvmmsg(fd, msgs, (unsigned)vlen, MSG_WAITFORONE, NULL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                c.enobufs++;
                continue;
            }
            die("recvmmsg");
        }
        c.recvs++;
        uint32_t max_id = 0;
        for (int i = 0; i < n; i++) {
            payloads[i] = NULL;
            payload_lens[i] = 0;
            const unsigned long long before = c.records;
            const uint32_t id = count_datagram(bufs + slot * (size_t)i, msgs[i].msg_len, &c,
                                               &payloads[i], &payload_lens[i]);
            counted[i] = c.records - before;
            if (id > max_id) {
                max_id = id;
            }
        }
        if (max_id == 0) {
            continue;
        }
        nlh = nfq_nlmsg_put(verdict, NFQNL_MSG_VERDICT_BATCH, (uint32_t)queue);
        nfq_nlmsg_verdict_put(nlh, (int)max_id, NF_ACCEPT);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
            die("cannot send the batch verdict");
        }
        c.verdicts++;
        // Written after the verdict, as nfcap does: a slow output never holds traffic.
        for (int i = 0; i < n; i++) {
            for (unsigned long long k = 0; k < counted[i]; k++) {
                output_record(&out, k == 0 ? payloads[i] : NULL, k == 0 ? payload_lens[i] : 0);
            }
        }
    }
    close_byte_output(&out);
    printf("records=%llu bytes=%llu lost=%llu enobufs=%llu recvs=%llu verdicts=%llu maxlen=%ld "
           "written=%llu writes=%llu\n",
           c.records, c.bytes, c.lost, c.enobufs, c.recvs, c.verdicts, maxlen, out.written,
           out.writes);
    fflush(stdout);
    free(counted);
    free(payload_lens);
    free(payloads);
    free(msgs);
    free(iov);
    free(bufs);
    mnl_socket_close(nl);
    return 0;
}
