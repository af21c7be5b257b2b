"""Helpers for the QMTP/QMQP tests: netstrings, a listener running a
service program in a home, and client packages."""
import os
import re
import signal
import socket
import subprocess

from qmailtest import BUILD, wait_for


def ns(b):
    if isinstance(b, str):
        b = b.encode()
    return str(len(b)).encode() + b":" + b + b","


def read_ns(f):
    """Reads one netstring from a file object; None at EOF before it."""
    digits = b""
    while True:
        c = f.read(1)
        if not c:
            return None
        if c == b":":
            break
        digits += c
    n = int(digits)
    data = f.read(n)
    assert f.read(1) == b",", "netstring without comma"
    return data


def qmtp_package(message, sender, rcpts, encoding=b"\n"):
    return ns(encoding + message) + ns(sender) + ns(b"".join(ns(r) for r in rcpts))


def qmqp_package(message, sender, rcpts):
    return ns(ns(message) + ns(sender) + b"".join(ns(r) for r in rcpts))


class Listener:
    """qmail-tcpsrv on 127.0.0.1:0 running HOME/bin/`prog` with the home's
    environment (plus `env`)."""

    def __init__(self, home, prog, opts=(), env=None):
        self.log = os.path.join(home.tmp, "%s-%d.log" % (prog, id(self)))
        self.errf = open(self.log, "wb")
        e = home.env(**(env or {}))
        self.p = subprocess.Popen([os.path.join(BUILD, "qmail-tcpsrv"), *opts, "127.0.0.1", "0",
                                   home.bin(prog)], stdout=subprocess.DEVNULL, stderr=self.errf,
                                  env=e, cwd="/")
        m = wait_for(lambda: re.search(r"listening on 127\.0\.0\.1:(\d+)\n", self.text())
                     or self.p.poll() is not None, 10, "listener")
        if self.p.poll() is not None:
            raise AssertionError("qmail-tcpsrv exited: " + self.text())
        self.port = int(m.group(1))

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), 20)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(20)
        self.errf.close()
