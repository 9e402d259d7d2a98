"""Does a PostgreSQL or Redis server answer on this address? Exit 0 if it does, 1 if not.

    python3 .ci/probe.py postgres [HOST] [PORT]     (default 127.0.0.1 5432)
    python3 .ci/probe.py redis [HOST] [PORT]        (default 127.0.0.1 6379)

Speaks just enough of each protocol to tell a live server from an open port: PostgreSQL
answers an SSLRequest with one byte (S or N), Redis answers PING with +PONG (or -NOAUTH when
it wants a password, which still means it is up). Standard library only, so that make and
.ci/run can use it before any virtualenv exists.
"""

import socket
import struct
import sys

DEFAULT_PORTS = {"postgres": 5432, "redis": 6379}


def postgres_answers(sock: socket.socket) -> bool:
    sock.sendall(struct.pack("!ii", 8, 80877103))  # SSLRequest
    return sock.recv(1) in (b"S", b"N")


def redis_answers(sock: socket.socket) -> bool:
    sock.sendall(b"PING\r\n")
    reply = sock.recv(64)
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in DEFAULT_PORTS:
        print(__doc__, file=sys.stderr)
        return 2
    kind = argv[0]
    host = argv[1] if len(argv) > 1 else "127.0.0.1"
    port = int(argv[2]) if len(argv) > 2 else DEFAULT_PORTS[kind]
    check = postgres_answers if kind == "postgres" else redis_answers
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.settimeout(2)
            return 0 if check(sock) else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
