"""Sends numbered UDP datagrams for the Python tests: sender.py udp ADDRESS PORT COUNT RATE
[SIZE]. Each payload is "seq=N" (N from 0), padded with "." to SIZE bytes. Bounded: COUNT
datagrams at RATE a second at most."""

import socket
import sys
import time


def main():
    _, address, port, count, rate = sys.argv[1:6]
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    count, rate = int(count), float(rate)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for n in range(count):
        payload = f"seq={n}".encode()
        payload += b"." * max(0, size - len(payload))
        sock.sendto(payload, (address, int(port)))
        pause = start + (n + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)


if __name__ == "__main__":
    main()
