#!/usr/bin/env python3
"""Peak memory of mailcheck against the worst hostile servers.

Starts misbehaving servers on 127.0.0.1 (each on its own port, in threads of this
process), runs the release binary once against each with `--json`, and prints the
child's peak resident set size (getrusage's ru_maxrss, via os.wait4) and its wall
time. Loopback only.

    cargo build --release
    scripts/hostile-memory.py [path/to/mailcheck]
"""

import os
import socket
import subprocess
import sys
import threading
import time

BINARY = sys.argv[1] if len(sys.argv) > 1 else "target/release/mailcheck"


def serve(port, talk):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(16)

    def handle(conn):
        try:
            talk(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def loop():
        while True:
            conn, _ = sock.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def endless_line(conn):
    """100 MB without a newline."""
    chunk = b"A" * 65536
    for _ in range(1600):
        conn.sendall(chunk)


def huge_reply(conn):
    """A 10 MB multi-line SMTP greeting."""
    line = b"220-" + b"x" * 96 + b"\r\n"
    for _ in range(100_000):
        conn.sendall(line)


def many_capabilities(conn):
    """100,000 capabilities after CAPA."""
    conn.sendall(b"+OK ready\r\n")
    conn.recv(100)
    conn.sendall(b"+OK\r\n" + b"X-CAP\r\n" * 100_000 + b".\r\n")
    time.sleep(2)


def huge_literal(conn):
    """An IMAP literal that announces 999,999,999 bytes and sends them."""
    conn.sendall(b"* OK ready\r\n")
    conn.recv(100)
    conn.sendall(b"* CAPABILITY {999999999}\r\n")
    chunk = b"B" * 65536
    for _ in range(1600):
        conn.sendall(chunk)


def nul_flood(conn):
    """Binary garbage, 100 MB."""
    chunk = bytes(range(256)) * 256
    for _ in range(1600):
        conn.sendall(chunk)


def drip(conn):
    """One byte every 50 ms, never a line."""
    for _ in range(200):
        conn.sendall(b"+")
        time.sleep(0.05)


CASES = [
    ("pop3", "100 MB line without a newline", endless_line),
    ("smtp", "10 MB multi-line reply", huge_reply),
    ("pop3", "100,000 capabilities", many_capabilities),
    ("imap", "literal of 999,999,999 bytes", huge_literal),
    ("pop3", "100 MB of binary garbage", nul_flood),
    ("pop3", "slow drip, one byte per 50 ms", drip),
]


def main():
    print(f"{'case':<36} {'peak RSS':>10} {'time':>7}  result")
    for i, (proto, name, talk) in enumerate(CASES):
        port = 27000 + i
        serve(port, talk)
        time.sleep(0.1)
        started = time.time()
        child = subprocess.Popen(
            [BINARY, "probe", "--host", "127.0.0.1", "--only",
             f"{proto}:{port}:plain", "--timeout", "2", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        took = time.time() - started
        code = "?"
        try:
            import json
            doc = json.loads(out)
            code = (doc["probes"][0].get("failure") or {}).get("code", "ok")
        except ValueError:
            code = "INVALID JSON"
        print(f"{name:<36} {usage.ru_maxrss / 1024:>7.1f} MB {took:>6.2f}s  {code}"
              f" (exit {os.waitstatus_to_exitcode(status)})")


if __name__ == "__main__":
    main()
