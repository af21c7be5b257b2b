"""qmail-tcpsrv and qmail-tcprules: the real listener on 127.0.0.1 (and ::1)
port 0, with a shell service that prints its environment."""
import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import shutil
import unittest

from qmailtest import BUILD, wait_for, is_root

TCPSRV = os.path.join(BUILD, "qmail-tcpsrv")
TCPRULES = os.path.join(BUILD, "qmail-tcprules")
# Prints its environment and its uid, then a marker, then holds the
# connection open until the client closes it.
SERVICE = ["sh", "-c", "env; echo UID=$(id -u); echo END; exec cat >/dev/null"]


def have_ipv6():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


class Server:
    def __init__(self, tmp, opts, host="127.0.0.1", service=SERVICE, env=None):
        self.log = os.path.join(tmp, "tcpsrv-%d.log" % id(self))
        self.errf = open(self.log, "wb")
        self.p = subprocess.Popen([TCPSRV, *opts, host, "0", *service], stdout=subprocess.DEVNULL,
                                  stderr=self.errf, env=env or os.environ.copy(), cwd=tmp)
        m = wait_for(lambda: re.search(r"listening on \[?([0-9a-f.:]+?)\]?:(\d+)\n", self.text())
                     or self.p.poll() is not None, 10, "listener to start")
        if self.p.poll() is not None:
            raise AssertionError("qmail-tcpsrv exited: " + self.text())
        self.host, self.port = m.group(1), int(m.group(2))

    def text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")

    def connect(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect((self.host, self.port))
        return s

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(20)
        self.errf.close()


def read_until_end(s):
    """Reads the service's output up to END; returns a dict of the env
    (b"" if the connection closed before END)."""
    data = b""
    while not data.endswith(b"END\n"):
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    env = {}
    for line in data.decode(errors="replace").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


class ListenerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-listener-")
        os.chmod(self.tmp, 0o755)
        self.servers = []
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def server(self, opts=(), **kw):
        s = Server(self.tmp, list(opts), **kw)
        self.servers.append(s)
        return s

    def rules(self, text, name="rules"):
        cdb = os.path.join(self.tmp, name + ".cdb")
        p = subprocess.run([TCPRULES, cdb, cdb + ".tmp"], input=text.encode(), capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return cdb

    def test_environment(self):
        env = os.environ.copy()
        env["TCPREMOTEHOST"] = "stale.example"
        env["TCPREMOTEINFO"] = "stale"
        srv = self.server(["-l", "mx.example.test"], env=env)
        c = srv.connect()
        got = read_until_end(c)
        want = {"PROTO": "TCP", "TCPLOCALIP": "127.0.0.1", "TCPLOCALPORT": str(srv.port),
                "TCPLOCALHOST": "mx.example.test", "TCPREMOTEIP": "127.0.0.1",
                "TCPREMOTEPORT": str(c.getsockname()[1])}
        for k, v in want.items():
            self.assertEqual(got.get(k), v, k)
        self.assertNotIn("TCPREMOTEHOST", got)
        self.assertNotIn("TCPREMOTEINFO", got)
        c.close()

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_ipv6(self):
        srv = self.server(host="::1")
        self.assertEqual(srv.host, "::1")
        c = srv.connect()
        got = read_until_end(c)
        self.assertEqual(got["TCPREMOTEIP"], "::1")
        self.assertEqual(got["TCPLOCALIP"], "::1")
        self.assertEqual(got["TCPLOCALPORT"], str(srv.port))
        c.close()

    @unittest.skipUnless(have_ipv6(), "no IPv6")
    def test_ipv6_any_serves_ipv4_as_ipv4(self):
        srv = self.server(host="::")
        s = socket.create_connection(("127.0.0.1", srv.port), 20)
        got = read_until_end(s)
        self.assertEqual(got["TCPREMOTEIP"], "127.0.0.1")
        s.close()

    def test_verbose_log_and_counts(self):
        srv = self.server(["-v", "-c", "5"])
        c = srv.connect()
        read_until_end(c)
        wait_for(lambda: "status: 1/5" in srv.text(), 10, "status 1/5")
        self.assertRegex(srv.text(), r"pid \d+ from 127\.0\.0\.1")
        self.assertRegex(srv.text(), r"ok \d+ :127\.0\.0\.1:%d :127\.0\.0\.1::\d+" % srv.port)
        c.close()
        wait_for(lambda: re.search(r"end \d+ status 0\n.*status: 0/5", srv.text(), re.S), 10,
                 "end and status 0/5")

    def test_global_limit_delays(self):
        srv = self.server(["-v", "-c", "2"])
        held = [srv.connect(), srv.connect()]
        for h in held:
            self.assertIsNotNone(read_until_end(h))
        wait_for(lambda: "status: 2/2" in srv.text(), 10, "status 2/2")
        third = srv.connect()  # completes in the kernel's backlog
        third.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            third.recv(1)
        third.settimeout(20)
        held[0].close()
        self.assertIsNotNone(read_until_end(third))  # served once a slot frees
        third.close()
        held[1].close()
        wait_for(lambda: srv.text().rstrip().endswith("status: 0/2"), 10, "all children reaped")

    def test_per_ip_limit_refuses(self):
        srv = self.server(["-i", "2"])
        held = [srv.connect(), srv.connect()]
        for h in held:
            self.assertIsNotNone(read_until_end(h))
        extra = srv.connect()
        self.assertIsNone(read_until_end(extra))  # closed at once
        wait_for(lambda: "deny per-ip limit 2 from 127.0.0.1" in srv.text(), 10, "per-ip log")
        held[0].close()
        # The count goes down when the child ends: a new one is served again.
        def served():
            c = srv.connect()
            ok = read_until_end(c) is not None
            c.close()
            return ok
        wait_for(served, 10, "a freed per-IP slot")
        held[1].close()

    def test_rules_allow_env_and_live_edit(self):
        cdb = self.rules('# comment\n127.0.0.1:allow,RELAYCLIENT="",GREETING=/a,b "c"/\n:deny\n')
        srv = self.server(["-x", cdb])
        c = srv.connect()
        got = read_until_end(c)
        self.assertEqual(got.get("RELAYCLIENT"), "")
        self.assertEqual(got.get("GREETING"), 'a,b "c"')
        c.close()
        # Recompiled rules apply to the next connection without a restart.
        self.rules("127.:deny\n")
        c = srv.connect()
        self.assertIsNone(read_until_end(c))
        c.close()

    def test_rules_prefix_and_default(self):
        cdb = self.rules("10.:deny\n:allow,DEFAULTED=\"yes\"\n")
        srv = self.server(["-x", cdb])
        c = srv.connect()
        self.assertEqual(read_until_end(c).get("DEFAULTED"), "yes")
        c.close()
        self.rules("127.0.:deny\n:allow\n")
        c = srv.connect()
        self.assertIsNone(read_until_end(c))
        c.close()

    def test_rules_range(self):
        self.rules("127.0.0.0-5:deny\n")
        srv = self.server(["-x", os.path.join(self.tmp, "rules.cdb")])
        c = srv.connect()
        self.assertIsNone(read_until_end(c))
        c.close()
        self.rules("127.0.0.2-5:deny\n")
        c = srv.connect()
        self.assertIsNotNone(read_until_end(c))
        c.close()

    def test_missing_rules_drop_unless_X(self):
        missing = os.path.join(self.tmp, "missing.cdb")
        srv = self.server(["-x", missing])
        c = srv.connect()
        self.assertIsNone(read_until_end(c))
        c.close()
        wait_for(lambda: "unable to read" in srv.text(), 10, "a warning")
        srv2 = self.server(["-X", "-x", missing])
        c = srv2.connect()
        self.assertIsNotNone(read_until_end(c))
        c.close()

    def test_bad_rules_leave_cdb_alone(self):
        cdb = self.rules(":allow,OLD=\"1\"\n")
        p = subprocess.run([TCPRULES, cdb, cdb + ".tmp"], input=b"1.2.3.4:frobnicate\n",
                           capture_output=True)
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"line 1", p.stderr)
        srv = self.server(["-x", cdb])
        c = srv.connect()
        self.assertEqual(read_until_end(c).get("OLD"), "1")
        c.close()

    def test_sigterm_stops_listening(self):
        srv = self.server()
        c = srv.connect()
        self.assertIsNotNone(read_until_end(c))
        srv.p.send_signal(signal.SIGTERM)
        self.assertEqual(srv.p.wait(20), 0)
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", srv.port), 5)
        # The running child was left to finish its connection.
        c.sendall(b"still here")
        c.close()

    def test_print_port_option(self):
        p = subprocess.Popen([TCPSRV, "-1", "127.0.0.1", "0", "true"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            port = int(p.stdout.readline())
            self.assertGreater(port, 0)
            socket.create_connection(("127.0.0.1", port), 5).close()
        finally:
            p.terminate()
            p.wait(20)
            p.stdout.close()

    def test_usage_errors(self):
        for args in ([], ["127.0.0.1", "0"], ["-c", "x", "127.0.0.1", "0", "true"],
                     ["-Z", "127.0.0.1", "0", "true"], ["nothost", "0", "true"],
                     ["127.0.0.1", "70000", "true"]):
            p = subprocess.run([TCPSRV, *args], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 100, (args, p.stderr))

    def test_unrunnable_program(self):
        srv = self.server(service=["/nonexistent/program"])
        c = srv.connect()
        self.assertEqual(c.recv(10), b"")
        c.close()
        wait_for(lambda: "unable to run /nonexistent/program" in srv.text(), 10, "a warning")

    @unittest.skipUnless(is_root(), "needs root")
    def test_privilege_drop(self):
        nobody = pwd.getpwnam("nobody")
        srv = self.server(["-u", str(nobody.pw_uid), "-g", str(nobody.pw_gid)])
        c = srv.connect()
        self.assertEqual(read_until_end(c).get("UID"), str(nobody.pw_uid))
        c.close()
        with open("/proc/%d/status" % srv.p.pid) as f:
            status = f.read()
        self.assertRegex(status, r"Uid:\s+%d\s+%d\s+%d" % ((nobody.pw_uid,) * 3))


if __name__ == "__main__":
    unittest.main()
