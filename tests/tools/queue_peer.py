"""Receivers and a sender for tests/privileged/nfqueue_hold.sh, each bounded in time.

  queue_peer.py udp-recv PORT COUNT TIMEOUT   one line per datagram: "seq=K len=N tag=T lower=L"
                                              (K from nfcap_traffic's header, T the text
                                              before it, "-" for none, L the bytes that are
                                              lower-case letters), then "received=N"
  queue_peer.py tcp-recv PORT TIMEOUT         prints what one connection sent, then "end"
  queue_peer.py tcp-send HOST PORT TEXT TIMEOUT
"""
import socket
import sys
import time


def udp_recv(port, count, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    end = time.monotonic() + timeout
    received = 0
    while received < count and time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = s.recv(70000)
        except socket.timeout:
            break
        at = data.find(b"NFCT")
        tag = data[:at].decode("ascii", "replace") if at > 0 else "-"
        seq = int.from_bytes(data[at + 4:at + 12], "big") if at >= 0 else -1
        lower = sum(1 for b in data if 0x61 <= b <= 0x7a)
        print(f"seq={seq} len={len(data)} tag={tag} lower={lower}", flush=True)
        received += 1
    print(f"received={received}", flush=True)


def tcp_recv(port, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    s.settimeout(timeout)
    end = time.monotonic() + timeout
    conn, _ = s.accept()
    data = b""
    while time.monotonic() < end:
        conn.settimeout(max(0.01, end - time.monotonic()))
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.decode("ascii", "replace"))
    print("end", flush=True)


def tcp_send(host, port, text, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(text.encode("ascii"))
    s.shutdown(socket.SHUT_WR)
    s.settimeout(timeout)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        pass
    s.close()


def main():
    mode = sys.argv[1]
    if mode == "udp-recv":
        udp_recv(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "tcp-recv":
        tcp_recv(int(sys.argv[2]), float(sys.argv[3]))
    elif mode == "tcp-send":
        tcp_send(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit(f"queue_peer.py: unknown mode {mode}")


main()
