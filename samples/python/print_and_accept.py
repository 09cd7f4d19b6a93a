#!/usr/bin/python3
"""NetfilterQueue's own example, unchanged, served by nfcap's netfilterqueue module:
prints a short description of each packet, then accepts it.

    iptables -I INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 1
    PYTHONPATH=build/dev/python /usr/bin/python3 samples/python/print_and_accept.py
"""
from netfilterqueue import NetfilterQueue


def print_and_accept(pkt):
    print(pkt)
    pkt.accept()


nfqueue = NetfilterQueue()
nfqueue.bind(1, print_and_accept)
try:
    nfqueue.run()
except KeyboardInterrupt:
    print()

nfqueue.unbind()
