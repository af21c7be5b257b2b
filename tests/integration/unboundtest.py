"""A real DNS server for tests: unbound serving test zones (local-data)
on 127.0.0.1 and a free port. Used by test_remote.py (MX lookups) and
test_listener.py (RBL, PTR). Zones should live under "qmt." (libunbound
answers "test." itself, RFC 6761)."""
import os
import shutil
import socket
import struct
import subprocess
import tempfile

from qmailtest import wait_for


def free_port(ip):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dns_query(name, port, qtype=1):
    """One UDP query to 127.0.0.1:port; returns the rcode, or None."""
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        data, _ = s.recvfrom(4096)
        return data[3] & 0x0f
    except OSError:
        return None
    finally:
        s.close()


class DnsServer:
    """unbound serving `zone` (unbound.conf server: lines) authoritatively on
    127.0.0.1:self.port; ready once `probe` (an A record in it) answers."""

    def __init__(self, zone, probe):
        self.tmp = tempfile.mkdtemp(prefix="qmail-dns-")
        os.chmod(self.tmp, 0o755)
        self.port = free_port("127.0.0.1")
        conf = os.path.join(self.tmp, "unbound.conf")
        with open(conf, "w") as f:
            f.write("server:\n  interface: 127.0.0.1\n  port: %d\n" % self.port)
            f.write("  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n" % self.tmp)
            f.write("  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n")
            f.write("  do-daemonize: no\n  access-control: 127.0.0.0/8 allow\n")
            f.write("  module-config: \"iterator\"\n  num-threads: 1\n")
            f.write("  do-ip6: no\n  so-reuseport: no\n")
            f.write(zone)
            f.write("remote-control:\n  control-enable: no\n")
        with open(os.path.join(self.tmp, "log"), "wb") as log:
            self.proc = subprocess.Popen(["unbound", "-d", "-c", conf],
                                         stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_for(lambda: self.proc.poll() is not None or dns_query(probe, self.port) == 0,
                     20, "unbound to answer")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            with open(os.path.join(self.tmp, "log"), "rb") as f:
                raise AssertionError("unbound died: " + f.read().decode(errors="replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.tmp, ignore_errors=True)
