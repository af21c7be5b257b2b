"""qmail-tcpsrv and qmail-tcprules: the real listener on 127.0.0.1 (and ::1)
port 0, with a shell service that prints its environment; RBL refusals
(-r, -a, RBLSMTPD) and client names (-h, -p) against a real unbound."""
import os
import pwd
import re
import signal
import socket
import subprocess
import tempfile
import shutil
import unittest

from qmailtest import BUILD, Home, wait_for, is_root
import unboundtest

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


def free_service():
    """(name, port) of a TCP service in /etc/services above 1024 whose port
    is free on the loopback addresses, or None."""
    try:
        with open("/etc/services") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split("#")[0].split()
        if len(fields) < 2 or not fields[1].endswith("/tcp"):
            continue
        name, port = fields[0], int(fields[1].split("/")[0])
        try:
            if port <= 1024 or socket.getservbyname(name, "tcp") != port:
                continue
            for fam, addr in [(socket.AF_INET, "127.0.0.1")] + (
                    [(socket.AF_INET6, "::1")] if have_ipv6() else []):
                with socket.socket(fam, socket.SOCK_STREAM) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((addr, port))
        except OSError:
            continue
        return name, port
    return None


class Server:
    def __init__(self, tmp, opts, host="127.0.0.1", service=SERVICE, env=None, port="0"):
        self.log = os.path.join(tmp, "tcpsrv-%d.log" % id(self))
        self.errf = open(self.log, "wb")
        self.p = subprocess.Popen([TCPSRV, *opts, host, port, *service], stdout=subprocess.DEVNULL,
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

    def smtpd_child(self, opts):
        """Serves our qmail-smtpd (from a fresh home) with `opts`; returns
        (the connection after the greeting, the child's /proc exe, its comm)."""
        home = Home()
        self.addCleanup(home.cleanup)
        env = os.environ.copy()
        env["QMAILHOME"] = home.dir
        srv = self.server(["-v", *opts], service=[home.bin("qmail-smtpd")], env=env)
        c = srv.connect()
        self.assertTrue(c.recv(1000).startswith(b"220 "))
        pid = int(wait_for(lambda: re.search(r"pid (\d+) from", srv.text()), 10,
                           "the child's pid").group(1))
        exe = os.readlink("/proc/%d/exe" % pid)
        with open("/proc/%d/comm" % pid) as f:
            comm = f.read().strip()
        c.sendall(b"QUIT\r\n")
        self.assertTrue(c.recv(1000).startswith(b"221 "))
        c.close()
        return exe, comm, home

    def test_our_smtpd_runs_without_exec(self):
        """The program is our qmail-smtpd: the child runs its code without
        exec (its program file stays qmail-tcpsrv), named qmail-smtpd."""
        exe, comm, _ = self.smtpd_child([])
        self.assertEqual(os.path.basename(exe), "qmail-tcpsrv")
        self.assertEqual(comm, "qmail-smtpd")

    def test_E_always_execs(self):
        exe, comm, home = self.smtpd_child(["-E"])
        self.assertEqual(exe, os.path.realpath(home.bin("qmail-smtpd")))
        self.assertEqual(comm, "qmail-smtpd")

    def smtp_server(self, opts=()):
        """Our qmail-smtpd from a fresh home behind the listener."""
        home = Home()
        self.addCleanup(home.cleanup)
        env = os.environ.copy()
        env["QMAILHOME"] = home.dir
        return self.server(["-v", *opts], service=[home.bin("qmail-smtpd")], env=env)

    @staticmethod
    def smtp(srv, lines, source="127.0.0.1"):
        """One SMTP session from `source`: the greeting, then each line and
        its reply; returns the replies (first line of each)."""
        c = socket.create_connection((srv.host, srv.port), 20, source_address=(source, 0))
        f = c.makefile("rb")
        replies = [f.readline()]
        for line in lines:
            c.sendall(line.encode() + b"\r\n")
            replies.append(f.readline())
        f.close()
        c.close()
        return replies

    def wait_ends(self, srv, n):
        wait_for(lambda: len(re.findall(r"end \d+ status", srv.text())) >= n, 20,
                 "%d connections ended" % n)

    def test_smtpd_worker_serves_the_next_connection_afresh(self):
        """A child running our qmail-smtpd serves the next connection too,
        with nothing of the last one: the rules' RELAYCLIENT for 127.0.0.2
        does not reach 127.0.0.1's session, and between connections it
        holds only /dev/null, stderr, its socket to the listener, its watch
        on control/ and the descriptor kept for a serving qmail-queue's
        channel (/dev/null while none runs: queue/serve.h)."""
        cdb = self.rules('127.0.0.2:allow,RELAYCLIENT=""\n:allow\n')
        srv = self.smtp_server(["-x", cdb, "-c", "1"])
        rcpt = ["HELO x", "MAIL FROM:<a@b.example>", "RCPT TO:<c@elsewhere.example>", "QUIT"]
        got = self.smtp(srv, rcpt, source="127.0.0.2")
        self.assertTrue(got[3].startswith(b"250 "), got)  # relayed
        self.wait_ends(srv, 1)
        pid = int(re.search(r"pid (\d+) from 127\.0\.0\.2", srv.text()).group(1))

        def worker_fds():
            return {int(n): os.readlink("/proc/%d/fd/%s" % (pid, n))
                    for n in os.listdir("/proc/%d/fd" % pid)}
        # The end is reported before the worker's clean-up: wait for that.
        wait_for(lambda: worker_fds().get(1) == "/dev/null" and len(worker_fds()) == 6, 10,
                 "the worker's clean-up")
        fds = worker_fds()
        self.assertEqual(fds.get(0), "/dev/null", fds)
        self.assertEqual(fds.get(1), "/dev/null", fds)
        # Its socket to the listener, its watch on control/ and the slot.
        others = sorted(t for n, t in fds.items() if n > 2)
        self.assertEqual(len(others), 3, fds)
        self.assertEqual(others[0], "/dev/null", fds)
        self.assertEqual(others[1], "anon_inode:inotify", fds)
        self.assertTrue(others[2].startswith("socket:"), fds)
        got = self.smtp(srv, rcpt, source="127.0.0.1")
        self.assertTrue(got[3].startswith(b"553 "), got)  # not relayed
        self.wait_ends(srv, 2)
        self.assertRegex(srv.text(), r"pid %d from 127\.0\.0\.1" % pid)
        self.assertIn("status: 0/1", srv.text().rstrip().splitlines()[-1])

    def test_smtpd_worker_sees_every_control_change(self):
        """A reused qmail-smtpd keeps its control files between connections
        but sees each change at the next one: a file created, written over
        in place, replaced by a symbolic link, the link's target changed,
        and the file removed."""
        home = Home()
        self.addCleanup(home.cleanup)
        env = os.environ.copy()
        env["QMAILHOME"] = home.dir
        srv = self.server(["-v", "-c", "1"], service=[home.bin("qmail-smtpd")], env=env)
        greeting = home.path("control", "smtpgreeting")
        me = open(home.path("control", "me")).read().strip()

        def greet():
            n = len(re.findall(r"end \d+ status", srv.text()))
            got = self.smtp(srv, ["QUIT"])[0].decode().rstrip()
            self.wait_ends(srv, n + 1)
            return got

        self.assertTrue(greet().startswith("220 %s " % me))
        with open(greeting, "w") as f:
            f.write("first.example hello\n")
        self.assertEqual(greet(), "220 first.example hello ESMTP")
        with open(greeting, "r+") as f:  # in place, same inode
            f.write("other")
        self.assertEqual(greet(), "220 other.example hello ESMTP")
        target = os.path.join(home.dir, "greeting-elsewhere")
        with open(target, "w") as f:
            f.write("linked.example\n")
        os.unlink(greeting)
        os.symlink(target, greeting)
        self.assertEqual(greet(), "220 linked.example ESMTP")
        with open(target, "w") as f:  # only the target changes
            f.write("target.example\n")
        self.assertEqual(greet(), "220 target.example ESMTP")
        self.assertEqual(greet(), "220 target.example ESMTP")
        os.unlink(greeting)
        self.assertTrue(greet().startswith("220 %s " % me))
        pids = set(re.findall(r"pid (\d+) from", srv.text()))
        self.assertEqual(len(pids), 1, srv.text())  # one worker served them all

    def test_smtpd_worker_sees_every_morercpthosts_change(self):
        """A reused qmail-smtpd keeps control/morercpthosts.cdb mapped (and
        its absence known) between connections, sees a new one from
        qmail-newmrh and its removal at the next connection, and holds no
        descriptor for it."""
        home = Home()
        self.addCleanup(home.cleanup)
        env = os.environ.copy()
        env["QMAILHOME"] = home.dir
        srv = self.server(["-v", "-c", "1"], service=[home.bin("qmail-smtpd")], env=env)

        def rcpt(domain):
            n = len(re.findall(r"end \d+ status", srv.text()))
            got = self.smtp(srv, ["HELO x", "MAIL FROM:<a@b.example>",
                                  "RCPT TO:<u@%s>" % domain, "QUIT"])
            self.wait_ends(srv, n + 1)
            return got[3][:3]

        self.assertEqual(rcpt("more.example"), b"553")
        self.assertEqual(rcpt("more.example"), b"553")  # the absence, kept
        with open(home.path("control", "morercpthosts"), "w") as f:
            f.write("more.example\n.wild.example\n")
        p = subprocess.run([home.bin("qmail-newmrh")], env=env, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(rcpt("more.example"), b"250")
        self.assertEqual(rcpt("a.wild.example"), b"250")  # from the kept mapping
        self.assertEqual(rcpt("other.example"), b"553")
        pid = int(re.findall(r"pid (\d+) from", srv.text())[-1])
        fds = [os.readlink("/proc/%d/fd/%s" % (pid, n)) for n in os.listdir("/proc/%d/fd" % pid)]
        self.assertFalse([t for t in fds if "morercpthosts" in t], fds)
        os.unlink(home.path("control", "morercpthosts.cdb"))
        self.assertEqual(rcpt("more.example"), b"553")
        pids = set(re.findall(r"pid (\d+) from", srv.text()))
        self.assertEqual(len(pids), 1, srv.text())  # one worker served them all

    def test_smtpd_worker_is_free_when_its_client_reconnects_at_once(self):
        """A client that connects again the moment it reads the 221 finds
        the worker that served it free: the worker reports the session's
        end before that reply goes out. So 300 back-to-back sessions need
        three workers (one per 100 connections), and -i 1 never refuses
        one of them (before, the listener often saw the new connection
        before the worker's report: a second worker, or a refusal at the
        per-IP limit)."""
        srv = self.smtp_server(["-i", "1"])
        for i in range(300):
            c = socket.create_connection((srv.host, srv.port), 20)
            f = c.makefile("rb")
            greeting = f.readline()
            self.assertTrue(greeting.startswith(b"220 "), (i, greeting, srv.text()[-2000:]))
            c.sendall(b"QUIT\r\n")
            self.assertTrue(f.readline().startswith(b"221 "), i)
            f.close()
            c.close()
        self.wait_ends(srv, 300)
        self.assertNotIn("deny per-ip", srv.text())
        pids = re.findall(r"pid (\d+) from", srv.text())
        self.assertEqual(len(pids), 300)
        for k in range(3):
            self.assertEqual(len(set(pids[100 * k:100 * k + 100])), 1, k)
        self.assertEqual(len(set(pids)), 3)

    def test_smtpd_worker_retires_after_100_connections(self):
        srv = self.smtp_server(["-c", "1"])
        for i in range(101):
            got = self.smtp(srv, ["QUIT"])
            self.assertTrue(got[1].startswith(b"221 "), (i, got))
            self.wait_ends(srv, i + 1)
        pids = re.findall(r"pid (\d+) from", srv.text())
        self.assertEqual(len(pids), 101)
        self.assertEqual(len(set(pids[:100])), 1, "one worker for the first 100")
        self.assertNotEqual(pids[100], pids[0], "a new one for the 101st")

    def test_smtpd_worker_killed_mid_session_frees_its_slot(self):
        srv = self.smtp_server(["-c", "1"])
        c = srv.connect()
        self.assertTrue(c.recv(1000).startswith(b"220 "))
        pid = int(wait_for(lambda: re.search(r"pid (\d+) from", srv.text()), 10,
                           "the worker's pid").group(1))
        os.kill(pid, signal.SIGKILL)
        self.assertEqual(c.recv(1000), b"")  # the connection dies with it
        c.close()
        wait_for(lambda: re.search(r"end %d status 9\n" % pid, srv.text()), 10, "the end logged")
        got = self.smtp(srv, ["QUIT"])  # -c 1: served only if the slot was freed
        self.assertTrue(got[0].startswith(b"220 ") and got[1].startswith(b"221 "), got)
        self.assertEqual(len(re.findall(r"pid (\d+) from", srv.text())), 2)

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

    def test_banner_comes_before_the_rules(self):
        """tcpserver(1) -B: the banner is written before the rules are
        checked, so a denied client gets it too, then the close."""
        cdb = self.rules(":deny\n")
        srv = self.server(["-B", "hello there\r\n", "-x", cdb])
        c = srv.connect()
        f = c.makefile("rb")
        self.assertEqual(f.read(), b"hello there\r\n")
        f.close()
        c.close()

    def test_reused_smtpd_worker_logs_under_the_listeners_name(self):
        """qmail-tcpsrv(8), -v: "qmail-tcpsrv: ok pid ..." for every
        connection, also the ones a reused qmail-smtpd worker serves."""
        cdb = self.rules("127.0.0.3:deny\n:allow\n")
        srv = self.smtp_server(["-x", cdb, "-c", "1"])
        for _ in range(3):
            self.smtp(srv, ["QUIT"])
        c = socket.create_connection((srv.host, srv.port), 20, source_address=("127.0.0.3", 0))
        c.makefile("rb").read()
        c.close()
        self.wait_ends(srv, 4)
        text = srv.text()
        self.assertEqual(len(re.findall(r"^qmail-tcpsrv: ok \d+ ", text, re.M)), 3, text)
        self.assertEqual(len(re.findall(r"^qmail-tcpsrv: deny \d+ ", text, re.M)), 1, text)
        self.assertNotIn("qmail-smtpd: ok", text)
        self.assertNotIn("qmail-smtpd: deny", text)

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
        # Neither addresses nor names (no resolver is asked), unknown
        # service names, ports out of range.
        for args in ([], ["127.0.0.1", "0"], ["-c", "x", "127.0.0.1", "0", "true"],
                     ["-Z", "127.0.0.1", "0", "true"], ["not a host", "0", "true"],
                     ["1.2.3", "0", "true"], ["127.0.0.1", "70000", "true"],
                     ["127.0.0.1", "no-such-service-here", "true"]):
            p = subprocess.run([TCPSRV, *args], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 100, (args, p.stderr))

    def test_host_name(self):
        # tcpserver(1): "a host name, allowing connections to the first IP
        # address for that host"; localhost comes from /etc/hosts.
        srv = self.server(host="localhost")
        self.assertIn(srv.host, ("127.0.0.1", "::1"))
        c = srv.connect()
        got = read_until_end(c)
        self.assertEqual(got.get("TCPLOCALIP"), srv.host)
        self.assertEqual(got.get("TCPLOCALPORT"), str(srv.port))
        c.close()

    def test_service_name(self):
        # tcpserver(1): "port may be a name from /etc/services".
        found = free_service()
        if not found:
            self.skipTest("no free unprivileged TCP service in /etc/services")
        name, port = found
        srv = self.server(host="localhost", port=name)
        self.assertEqual(srv.port, port)
        with socket.create_connection(("localhost", port), 20) as c:
            c.settimeout(20)
            got = read_until_end(c)
        self.assertEqual(got.get("TCPLOCALPORT"), str(port))

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


# Test zones for -r/-a (RFC 5782 names) and -h/-p (PTR names of the
# loopback, which our unbound must serve instead of its built-in ones).
V6_LOOPBACK_NIBBLES = ".".join(["1"] + ["0"] * 31)
ZONE = """
local-zone: "qmt." static
local-data: "probe.qmt. A 127.0.0.1"
local-data: '1.0.0.127.bl.qmt. TXT "listed: see http://bl.qmt/?127.0.0.1"'
local-data: '1.0.0.127.perm.qmt. TXT "permanently listed"'
local-data: '1.0.0.127.empty.qmt. TXT ""'
local-data: "1.0.0.127.white.qmt. A 127.0.0.2"
local-data: "2.0.0.127.bl.qmt. A 127.0.0.2"
local-data: '%(v6)s.bl.qmt. TXT "v6 listed"'
local-zone: "broken.qmt." refuse
local-zone: "127.in-addr.arpa." static
local-data: "1.0.0.127.in-addr.arpa. PTR Host.QMT."
local-data: "host.qmt. A 127.0.0.1"
local-data: "2.0.0.127.in-addr.arpa. PTR liar.qmt."
local-data: "liar.qmt. A 192.0.2.1"
""" % {"v6": V6_LOOPBACK_NIBBLES}


class DnsListenerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = unboundtest.DnsServer(ZONE, "probe.qmt")

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-listener-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.makedirs(os.path.join(self.tmp, "home", "control"))
        with open(os.path.join(self.tmp, "home", "control", "dnsresolvers"), "w") as f:
            f.write("127.0.0.1@%d\n" % self.dns.port)
        self.env = dict(os.environ, QMAILHOME=os.path.join(self.tmp, "home"))
        self.env.pop("RBLSMTPD", None)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()

    def server(self, opts, host="127.0.0.1"):
        s = Server(self.tmp, ["-v", *opts], host=host, env=self.env)
        self.servers.append(s)
        return s

    def rules(self, text):
        cdb = os.path.join(self.tmp, "rules.cdb")
        p = subprocess.run([TCPRULES, cdb, cdb + ".tmp"], input=text.encode(), capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return cdb

    def connect(self, srv, source="127.0.0.1"):
        fam = socket.AF_INET6 if ":" in srv.host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(30)
        s.bind((source, 0))
        s.connect((srv.host, srv.port))
        return s

    def conversation(self, c):
        """Speaks to a refusing qmail-tcpsrv; returns its replies by command."""
        f = c.makefile("rb")
        got = {"greeting": f.readline()}
        for cmd in (b"EHLO client.qmt", b"MAIL FROM:<a@b.qmt>", b"RCPT TO:<c@d.qmt>", b"DATA",
                    b"NOOP", b"QUIT"):
            c.sendall(cmd + b"\r\n")
            got[cmd.split()[0].decode()] = f.readline()
        got["after QUIT"] = f.read()
        f.close()
        return got

    def test_rbl_listed_gets_451_with_txt(self):
        srv = self.server(["-r", "none.qmt", "-r", "bl.qmt", "-r", "-perm.qmt"])
        c = self.connect(srv)
        got = self.conversation(c)
        c.close()
        self.assertTrue(got["greeting"].startswith(b"220 "), got)
        self.assertEqual(got["EHLO"][:4], b"250 ")
        want = b"451 4.7.1 listed: see http://bl.qmt/?127.0.0.1\r\n"
        for cmd in ("MAIL", "RCPT", "DATA"):
            self.assertEqual(got[cmd], want, cmd)
        self.assertEqual(got["NOOP"][:4], b"250 ")
        self.assertEqual(got["QUIT"][:4], b"221 ")
        self.assertEqual(got["after QUIT"], b"")
        wait_for(lambda: "rbl " in srv.text(), 30, "the rbl log line")
        self.assertRegex(srv.text(), r"rbl \d+ 127\.0\.0\.1 bl\.qmt: 451 4\.7\.1 listed: see")

    def test_rbl_permanent_and_empty_text(self):
        srv = self.server(["-r", "-perm.qmt"])
        c = self.connect(srv)
        self.assertEqual(self.conversation(c)["MAIL"], b"553 5.7.1 permanently listed\r\n")
        c.close()
        srv2 = self.server(["-r", "empty.qmt"])
        c = self.connect(srv2)
        self.assertEqual(self.conversation(c)["RCPT"],
                         b"451 4.7.1 your address is listed in empty.qmt\r\n")
        c.close()

    def test_rbl_not_listed_anti_listed_or_failing_pass(self):
        # 127.0.0.2 has an A but no TXT in bl.qmt: not listed.
        for opts, source in ((["-r", "bl.qmt"], "127.0.0.2"),
                             (["-a", "white.qmt", "-r", "bl.qmt"], "127.0.0.1"),
                             (["-r", "broken.qmt"], "127.0.0.1"),
                             (["-r", "nothere.qmt"], "127.0.0.1")):
            srv = self.server(opts)
            c = self.connect(srv, source)
            got = read_until_end(c)
            self.assertIsNotNone(got, opts)
            self.assertEqual(got["TCPREMOTEIP"], source)
            c.close()
        # The anti-list only counts where it stands: after the list, too late.
        srv = self.server(["-r", "bl.qmt", "-a", "white.qmt"])
        c = self.connect(srv)
        self.assertEqual(self.conversation(c)["MAIL"][:4], b"451 ")
        c.close()

    def test_rblsmtpd_variable_from_rules(self):
        cdb = self.rules('127.0.0.1:allow,RBLSMTPD=""\n127.0.0.2:allow,RBLSMTPD="-go away"\n'
                         '127.0.0.3:allow,RBLSMTPD="later please"\n')
        srv = self.server(["-x", cdb, "-r", "bl.qmt"])
        c = self.connect(srv)  # listed in bl.qmt, but RBLSMTPD="" lets it through
        self.assertIsNotNone(read_until_end(c))
        c.close()
        c = self.connect(srv, "127.0.0.2")
        self.assertEqual(self.conversation(c)["RCPT"], b"553 5.7.1 go away\r\n")
        c.close()
        c = self.connect(srv, "127.0.0.3")
        self.assertEqual(self.conversation(c)["DATA"], b"451 4.7.1 later please\r\n")
        c.close()
        # Without -r the variable is just passed on.
        srv2 = self.server(["-x", cdb])
        c = self.connect(srv2, "127.0.0.2")
        self.assertEqual(read_until_end(c).get("RBLSMTPD"), "-go away")
        c.close()

    @unittest.skipUnless(have_ipv6(), "no IPv6 loopback")
    def test_rbl_ipv6_nibbles(self):
        srv = self.server(["-r", "bl.qmt"], host="::1")
        c = self.connect(srv, "::1")
        self.assertEqual(self.conversation(c)["MAIL"], b"451 4.7.1 v6 listed\r\n")
        c.close()

    def test_remote_host(self):
        cdb = self.rules('=host.qmt:allow,NAMED="yes"\n')
        srv = self.server(["-h", "-x", cdb])
        c = self.connect(srv)
        got = read_until_end(c)
        c.close()
        self.assertEqual(got.get("TCPREMOTEHOST"), "host.qmt")
        self.assertEqual(got.get("NAMED"), "yes")
        self.assertRegex(srv.text(), r"ok \d+ :127\.0\.0\.1:\d+ host\.qmt:127\.0\.0\.1::\d+")
        # Paranoid: host.qmt has 127.0.0.1; liar.qmt (PTR of 127.0.0.2) does not.
        srv_p = self.server(["-h", "-p"])
        c = self.connect(srv_p)
        self.assertEqual(read_until_end(c).get("TCPREMOTEHOST"), "host.qmt")
        c.close()
        c = self.connect(srv_p, "127.0.0.2")
        self.assertNotIn("TCPREMOTEHOST", read_until_end(c))
        c.close()
        c = self.connect(srv, "127.0.0.2")
        self.assertEqual(read_until_end(c).get("TCPREMOTEHOST"), "liar.qmt")
        c.close()
        # No name (NXDOMAIN) and -H: unset.
        c = self.connect(srv, "127.0.0.3")
        self.assertNotIn("TCPREMOTEHOST", read_until_end(c))
        c.close()
        srv_h = self.server(["-h", "-H"])
        c = self.connect(srv_h)
        self.assertNotIn("TCPREMOTEHOST", read_until_end(c))
        c.close()

    def test_libunbound_is_loaded_only_when_something_resolves(self):
        """Without -h or an RBL the listener never loads libunbound (it and
        its four libraries were 0.6 MiB of the listener's memory). With -h
        it is loaded once, before any connection, so its children share
        it; they resolve with it."""
        def maps(pid):
            with open("/proc/%d/maps" % pid) as f:
                return f.read()
        plain = self.server([])
        c = self.connect(plain)
        self.assertNotIn("TCPREMOTEHOST", read_until_end(c))
        c.close()
        self.assertNotIn("libunbound", maps(plain.p.pid))
        named = self.server(["-h"])
        self.assertIn("libunbound", maps(named.p.pid))
        c = self.connect(named)
        self.assertEqual(read_until_end(c).get("TCPREMOTEHOST"), "host.qmt")
        c.close()

    def test_bad_zone_is_usage_error(self):
        for args in (["-r", "", "127.0.0.1", "0", "true"], ["-r", "a b", "127.0.0.1", "0", "true"]):
            p = subprocess.run([TCPSRV, *args], capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 100, (args, p.stderr))


if __name__ == "__main__":
    unittest.main()
