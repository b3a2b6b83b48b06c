#!/usr/bin/env python3
# Host-side peers for the network tests: a TCP server that answers each line
# with "echo LINE", a TCP sink that logs "bytes N" for each connection it
# drained, and a UDP receiver that logs each datagram, bound with
# IP_FREEBIND so they can start before moat creates the veth address they
# listen on. Prints "ready" once bound; runs until killed.
import argparse
import selectors
import socket

IP_FREEBIND = 15


def bind(kind, spec):
    host, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
    s.bind((host, int(port)))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", action="append", default=[])
    ap.add_argument("--sink", action="append", default=[])
    ap.add_argument("--udp", action="append", default=[])
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    for spec in args.tcp:
        s = bind(socket.SOCK_STREAM, spec)
        s.listen(16)
        sel.register(s, selectors.EVENT_READ, "accept")
    for spec in args.sink:
        s = bind(socket.SOCK_STREAM, spec)
        s.listen(16)
        sel.register(s, selectors.EVENT_READ, "sink")
    for spec in args.udp:
        sel.register(bind(socket.SOCK_DGRAM, spec), selectors.EVENT_READ, "udp")
    log = open(args.log, "a", buffering=1)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "sink":
                c, _ = s.accept()
                n = 0
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    n += len(b)
                c.close()
                log.write(f"bytes {n}\n")
            elif key.data == "accept":
                c, peer = s.accept()
                log.write(f"tcp {peer[0]} connect\n")
                sel.register(c, selectors.EVENT_READ, "conn")
            elif key.data == "conn":
                data = s.recv(4096)
                if not data:
                    sel.unregister(s)
                    s.close()
                    continue
                for line in data.decode(errors="replace").splitlines():
                    log.write(f"tcp {line}\n")
                    s.sendall(f"echo {line}\n".encode())
            else:
                data, peer = s.recvfrom(4096)
                log.write(f"udp {peer[0]} {data.decode(errors='replace')}\n")


if __name__ == "__main__":
    main()
