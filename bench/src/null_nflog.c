// null_nflog: the NFLOG "null reader", the floor every NFLOG reader is compared with.
//
//   null_nflog -g GROUP [-m walk|parse] [-R RCVBUF] [-N NLBUFSIZ] [-q QTHRESH] [-T TIMEOUT_CS]
//              [-w FILE -b BYTES [-B BUFSIZE]] [-d SECONDS]
//
// Binds one NFLOG group with the same kernel settings nfcap uses by default (copy the whole
// packet, 64 MiB receive buffer forced with SO_RCVBUFFORCE, 128 KiB kernel batches, a
// 100,000-record threshold, a 10 ms flush timer, per-group sequence numbers), receives the
// kernel's batches into one large buffer and counts records, payload bytes and sequence-number
// gaps. Without -w it writes nothing: what it costs is the price of getting the records out of
// the kernel, which no recorder can avoid.
//   -m walk   (default) walks each record's attributes with libmnl's bounds-checked iterator and
//             reads the two it needs: the least a safe reader must do
//   -m parse  indexes every attribute with libnetfilter_log's nflog_nlmsg_parse (which validates
//             each one through a callback); measured here at about 0.1 us more per record
//   -w FILE -b BYTES  the floor reader: also writes BYTES bytes per record (a decimal number, the
//             size nfcap gives a record) to FILE, each record's payload first, in write() calls of
//             BUFSIZE bytes (default 256 KiB, as nfcap writes): the price of the records plus
//             that of the bytes
//
// Stops on SIGTERM or SIGINT, or after SECONDS (default 600), and prints one line on stdout:
//   records=N bytes=B lost=L enobufs=E recvs=R truncated=T written=W writes=X
// lost counts records missing from the sequence numbers; enobufs counts receive-buffer overruns.
// Exit status: 0 after a clean stop, 1 on a setup error (message on stderr), 2 bad usage.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char* const program = "null_nflog";
#include "null_common.h"

struct counters {
    unsigned long long records, bytes, lost, enobufs, recvs, truncated;
    int have_seq;
    uint32_t next_seq;
};

static void note_seq(uint32_t seq, struct counters* c) {
    if (c->have_seq && seq != c->next_seq) {
        c->lost += (uint32_t)(seq - c->next_seq);
    }
    c->have_seq = 1;
    c->next_seq = seq + 1;
}

// Counts the records of one received batch. Messages and attributes are bounds-checked by
// libmnl; anything that is not an NFLOG packet record is skipped.
static void count_batch(const char* buf, size_t len, int parse, struct counters* c,
                        struct byte_output* out) {
    const struct nlmsghdr* nlh = (const struct nlmsghdr*)buf;
    int left = (int)len;
    for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
        if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_ULOG ||
            NFNL_MSG_TYPE(nlh->nlmsg_type) != NFULNL_MSG_PACKET) {
            continue;
        }
        if (!parse) {
            // libmnl's mnl_attr_for_each, spelled out with explicit int lengths.
            const char* end = (const char*)mnl_nlmsg_get_payload_tail(nlh);
            const struct nlattr* attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
            const void* payload = NULL;
            size_t payload_len = 0;
            c->records++;
            while (mnl_attr_ok(attr, (int)(end - (const char*)attr))) {
                const uint16_t type = mnl_attr_get_type(attr);
                if (type == NFULA_PAYLOAD) {
                    payload = mnl_attr_get_payload(attr);
                    payload_len = mnl_attr_get_payload_len(attr);
                    c->bytes += payload_len;
                } else if (type == NFULA_SEQ && mnl_attr_get_payload_len(attr) >= 4) {
                    note_seq(ntohl(mnl_attr_get_u32(attr)), c);
                }
                attr = mnl_attr_next(attr);
            }
            output_record(out, payload, payload_len);
            continue;
        }
        struct nlattr* attr[NFULA_MAX + 1];
        memset(attr, 0, sizeof attr);
        if (nflog_nlmsg_parse(nlh, attr) < 0) {
            continue;
        }
        c->records++;
        if (attr[NFULA_PAYLOAD]) {
            c->bytes += mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]);
            output_record(out, mnl_attr_get_payload(attr[NFULA_PAYLOAD]),
                          mnl_attr_get_payload_len(attr[NFULA_PAYLOAD]));
        } else {
            output_record(out, NULL, 0);
        }
        if (attr[NFULA_SEQ]) {
            note_seq(ntohl(mnl_attr_get_u32(attr[NFULA_SEQ])), c);
        }
    }
}

int main(int argc, char** argv) {
    long group = -1, rcvbuf = 64L << 20, nlbufsiz = 131072, qthresh = 100000, timeout_cs = 1;
    long max_seconds = 600, out_bufsize = floor_write_size;
    long long milli = 0;
    const char* out_path = NULL;
    int parse = 0;
    int opt;
    while ((opt = getopt(argc, argv, "g:m:R:N:q:T:w:b:B:d:")) != -1) {
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
        case 'm':
            parse = strcmp(optarg, "parse") == 0;
            break;
        case 'g':
            group = strtol(optarg, NULL, 10);
            break;
        case 'R':
            rcvbuf = strtol(optarg, NULL, 10);
            break;
        case 'N':
            nlbufsiz = strtol(optarg, NULL, 10);
            break;
        case 'q':
            qthresh = strtol(optarg, NULL, 10);
            break;
        case 'T':
            timeout_cs = strtol(optarg, NULL, 10);
            break;
        case 'd':
            max_seconds = strtol(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: null_nflog -g GROUP [-m walk|parse] [-R RCVBUF] [-N NLBUFSIZ] "
                            "[-q QTHRESH] [-T TIMEOUT_CS] [-w FILE -b BYTES [-B BUFSIZE]] "
                            "[-d SECONDS]\n");
            return 2;
        }
    }
    if (group < 0 || group > 65535 || max_seconds <= 0) {
        fprintf(stderr, "null_nflog: -g GROUP (0..65535) is required\n");
        return 2;
    }
    if (out_path && (milli <= 0 || out_bufsize < 4096)) {
        fprintf(stderr, "null_nflog: -w FILE needs -b BYTES (> 0 per record); BUFSIZE >= 4096\n");
        return 2;
    }

    stop_on_signal_or_after(max_seconds);

    struct mnl_socket* nl = open_netfilter_socket(rcvbuf);
    const int fd = mnl_socket_get_fd(nl);

    char cfg[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr* nlh = nflog_nlmsg_put_header(cfg, NFULNL_MSG_CONFIG, AF_UNSPEC, (uint16_t)group);
    nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
    configure(nl, nlh, 1, "NFLOG");

    nlh = nflog_nlmsg_put_header(cfg, NFULNL_MSG_CONFIG, AF_UNSPEC, (uint16_t)group);
    nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, 0xffff);
    mnl_attr_put_u32(nlh, NFULA_CFG_NLBUFSIZ, htonl((uint32_t)nlbufsiz));
    mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl((uint32_t)qthresh));
    mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl((uint32_t)timeout_cs));
    mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS, htons(NFULNL_CFG_F_SEQ));
    configure(nl, nlh, 2, "NFLOG");

    // One kernel batch is at most nlbufsiz rounded up by the allocator; 1 MiB always holds it
    // (MSG_TRUNC reports the true size if not, and the batch is counted as truncated).
    const size_t bufsize = 1 << 20;
    char* buf = malloc(bufsize);
    if (!buf) {
        die("malloc");
    }
    struct byte_output out;
    open_byte_output(&out, out_path, milli, (size_t)out_bufsize);
    struct counters c;
    memset(&c, 0, sizeof c);
    while (!stopping) {
        const ssize_t n = recv(fd, buf, bufsize, MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == ENOBUFS) {
                c.enobufs++;
                continue;
            }
            die("recv");
        }
        c.recvs++;
        size_t len = (size_t)n;
        if (len > bufsize) {
            c.truncated++;
            len = bufsize;
        }
        count_batch(buf, len, parse, &c, &out);
    }
    close_byte_output(&out);
    printf("records=%llu bytes=%llu lost=%llu enobufs=%llu recvs=%llu truncated=%llu written=%llu "
           "writes=%llu\n",
           c.records, c.bytes, c.lost, c.enobufs, c.recvs, c.truncated, out.written, out.writes);
    fflush(stdout);
    free(buf);
    mnl_socket_close(nl);
    return 0;
}
