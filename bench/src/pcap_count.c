// pcap_count: counts the records of a pcap or pcapng file with libpcap.
//
//   pcap_count FILE        (FILE may be - for standard input)
//
// Prints "records=N linktype=L" on stdout. It is the benchmark's independent count of what a
// recorder wrote, and, timed on a recording, the floor for replay: reading every record through
// libpcap and doing nothing with it.
// Exit status: 0 when the whole file was read, 1 when it could not be opened or is damaged
// (the count up to the damage is still printed).
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_count FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcap_count: %s\n", err);
        printf("records=0 linktype=-1\n");
        return 1;
    }
    unsigned long long records = 0;
    struct pcap_pkthdr* hdr;
    const unsigned char* data;
    int r;
    while ((r = pcap_next_ex(p, &hdr, &data)) == 1) {
        records++;
    }
    printf("records=%llu linktype=%d\n", records, pcap_datalink(p));
    if (r == PCAP_ERROR) {
        fprintf(stderr, "pcap_count: %s: %s\n", argv[1], pcap_geterr(p));
    }
    pcap_close(p);
    return r == PCAP_ERROR ? 1 : 0;
}
