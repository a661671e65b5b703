"""A byte forwarder with no HTTP framing at all, the floor under any proxy's cost on this
machine: `bench_up.py` measures it beside the router, in the same rounds, in front of the same
container. One epoll loop, one connection to the container per client connection, bytes passed
on as they arrive (loopback only; a short write is finished blocking, which a benchmark's small
messages never need).

Usage: ``python bench/forwarder.py LISTEN_PORT BACKEND_PORT`` (prints ``ready`` when listening).
"""

from __future__ import annotations

import select
import socket
import sys


def serve(listen_port: int, backend_port: int) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(128)
    poll = select.epoll()
    poll.register(listener.fileno(), select.EPOLLIN)
    peers: dict[int, tuple[socket.socket, socket.socket]] = {}  # fd -> (its socket, the other)
    print("ready", flush=True)
    while True:
        for fd, _ in poll.poll():
            if fd == listener.fileno():
                client, _ = listener.accept()
                backend = socket.create_connection(("127.0.0.1", backend_port))
                for sock in (client, backend):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    poll.register(sock.fileno(), select.EPOLLIN)
                peers[client.fileno()] = (client, backend)
                peers[backend.fileno()] = (backend, client)
                continue
            if fd not in peers:  # closed with its other side earlier in this batch
                continue
            sock, other = peers[fd]
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                continue
            for gone in (sock, other):
                poll.unregister(gone.fileno())
                del peers[gone.fileno()]
                gone.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
