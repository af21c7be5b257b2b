"""qmail-start, qmail-send, qmail-lspawn and qmail-rspawn against small stub
siblings (qmail-clean, qmail-local, qmail-getpw, qmail-queue written here in
Python), so the queue manager is tested on its own: routing, deliveries,
bounces, retries, signals, restarts, starvation and concurrency.

The stubs follow the interfaces the real programs implement: qmail-clean's
"i<id>\\0"/"x<id>\\0" -> '+', qmail-local's argv and exit codes, qmail-getpw's
six NUL-terminated fields, qmail-queue's fd 0 message / fd 1 envelope.
"""
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmailtest import BUILD, rspawn_pid  # noqa: E402
from qmailtest import wait_for as _wait_for  # noqa: E402


def wait_for(pred, timeout=30.0, what="condition"):
    """qmailtest.wait_for with room for a heavily loaded machine: the
    timeouts only bound a hang, they do not measure speed."""
    return _wait_for(pred, timeout * 4, what)

SPLIT = 23
PY = sys.executable

STUB_CLEAN = r'''#!PY
import os, sys
q = os.path.join(os.environ["QMAILHOME"], "queue")
def rm(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
buf = b""
while True:
    c = os.read(0, 4096)
    if not c:
        sys.exit(0)
    buf += c
    while b"\0" in buf:
        rec, buf = buf.split(b"\0", 1)
        cmd, ident = rec[:1], rec[1:].decode()
        if cmd == b"i":
            rm(os.path.join(q, "intd", ident))
            rm(os.path.join(q, "todo", ident))
        elif cmd == b"x":
            rm(os.path.join(q, "mess", str(int(ident) % 23), ident))
            rm(os.path.join(q, "intd", ident))
            rm(os.path.join(q, "todo", ident))
        os.write(1, b"+")
'''

# qmail-local -- user homedir local dash ext domain sender defaultdelivery
# Records every delivery as homedir/delivered/<n> (Delivered-To and
# Return-Path lines, then the message). Behaviour by files in homedir:
# "perm" -> exit 100, "temp" -> exit 111, "slow" -> sleep while it exists;
# "running/" counts concurrent runs into "maxrunning".
STUB_LOCAL = r'''#!PY
import os, sys, time
_, _, user, home, local, dash, ext, domain, sender, dd = sys.argv
msg = sys.stdin.buffer.read()
if os.getcwd() != os.path.realpath(home):
    print("wrong cwd %s (#4.3.0)" % os.getcwd()); sys.exit(111)
run = os.path.join(home, "running")
os.makedirs(run, exist_ok=True)
me = os.path.join(run, str(os.getpid()))
open(me, "w").close()
n = len(os.listdir(run))
with open(os.path.join(home, "concurrency"), "a") as f:
    f.write("%d\n" % n)
try:
    while os.path.exists(os.path.join(home, "slow")):
        time.sleep(0.02)
    if os.path.exists(os.path.join(home, "perm")):
        print("Sorry, no mailbox here by that name. (#5.1.1)"); sys.exit(100)
    if os.path.exists(os.path.join(home, "temp")):
        print("Temporary trouble. (#4.2.1)"); sys.exit(111)
    d = os.path.join(home, "delivered")
    os.makedirs(d, exist_ok=True)
    name = "%d.%d" % (time.time() * 1e6, os.getpid())
    tmp = os.path.join(home, "tmp." + name)
    with open(tmp, "wb") as f:
        f.write(("Return-Path: <%s>\nDelivered-To: %s@%s\nX-Args: %s|%s|%s|%s|%s\n" % (
            sender, local, domain, user, dash, ext, dd, local)).encode())
        f.write(msg)
    os.rename(tmp, os.path.join(d, name))
    print("did 0+0+1")
finally:
    os.unlink(me)
'''

STUB_GETPW = r'''#!PY
import os, sys
local = sys.argv[1]
if local.startswith("nosuch"):
    sys.exit(100)
if local.startswith("tempfail"):
    sys.exit(111)
home = os.path.join(os.environ["QMAILHOME"], "alias")
sys.stdout.buffer.write(b"alias\0%d\0%d\0%s\0-\0%s\0" % (
    os.getuid(), os.getgid(), home.encode(), local.encode()))
'''

# fd 0 message, fd 1 envelope "F..\0T..\0...\0\0"; queues like qmail-queue.
STUB_QUEUE = r'''#!PY
import os, sys, time
q = os.path.join(os.environ["QMAILHOME"], "queue")
msg = os.fdopen(0, "rb").read()
env = os.fdopen(1, "rb").read()
recs = env.split(b"\0")
ident = int(time.time() * 1000) % 1000000000 * 1000 + os.getpid() % 1000
while os.path.exists(os.path.join(q, "mess", str(ident % 23), str(ident))):
    ident += 1
with open(os.path.join(q, "mess", str(ident % 23), str(ident)), "wb") as f:
    f.write(b"Received: (qmail %d invoked by stub); now\n" % os.getpid() + msg)
todo = b"u%d\0p%d\0" % (os.getuid(), os.getpid())
for r in recs:
    if r:
        todo += r + b"\0"
with open(os.path.join(q, "intd", str(ident)), "wb") as f:
    f.write(todo)
os.link(os.path.join(q, "intd", str(ident)), os.path.join(q, "todo", str(ident)))
try:
    if os.environ.get("STUB_NO_POKE"):
        raise OSError("no poke")
    fd = os.open(os.path.join(q, "lock", "trigger"), os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"x")
    os.close(fd)
except OSError:
    pass
'''


class StubHome:
    """A qmail home with our programs and the stubs above."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="qmail-send-test-")
        os.chmod(self.tmp, 0o755)
        self.dir = os.path.join(self.tmp, "home")
        self.logfile = os.path.join(self.tmp, "send.log")
        self.proc = None
        for d in ["bin", "control", "users", "alias", "boxes"]:
            os.makedirs(self.path(d))
        for p in ["qmail-send", "qmail-start", "qmail-lspawn", "qmail-rspawn", "qmail-newu"]:
            shutil.copy(os.path.join(BUILD, p), self.path("bin", p))
        for name, text in [("qmail-clean", STUB_CLEAN), ("qmail-local", STUB_LOCAL),
                           ("qmail-getpw", STUB_GETPW), ("qmail-queue", STUB_QUEUE)]:
            self.write_bin(name, text.replace("PY", PY, 1))
        q = self.path("queue")
        for sub in ["mess", "info", "local", "remote"]:
            for s in range(SPLIT):
                os.makedirs(os.path.join(q, sub, str(s)))
        for sub in ["todo", "intd", "bounce", "pid", "lock"]:
            os.makedirs(os.path.join(q, sub))
        open(os.path.join(q, "lock", "sendmutex"), "w").close()
        os.mkfifo(os.path.join(q, "lock", "trigger"), 0o622)
        uid, gid = os.getuid(), os.getgid()
        with open(self.path("users", "ids"), "w") as f:
            for n in ["alias", "qmaild", "qmaill", "qmailp", "qmailq", "qmailr", "qmails"]:
                f.write("%s:%d:%d\n" % (n, uid, gid))
        self.control("me", "example.test\n")
        self.users = []
        for u in ["alice", "bob", "postmaster", "carol"]:
            self.add_user(u)

    def write_bin(self, name, text):
        p = self.path("bin", name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o755)

    def path(self, *rel):
        return os.path.join(self.dir, *rel)

    def env(self):
        e = dict(os.environ)
        e["QMAILHOME"] = self.dir
        return e

    def control(self, name, text):
        with open(self.path("control", name), "w") as f:
            f.write(text)

    def box(self, user):
        return self.path("boxes", user)

    def add_user(self, name, prefix=False):
        os.makedirs(self.box(name), exist_ok=True)
        self.users.append((name, prefix))
        pw = pwd.getpwuid(os.getuid())
        lines = []
        for n, pre in self.users:
            if pre:
                lines.append("+%s:%s:%d:%d:%s:-::" % (n, pw.pw_name, os.getuid(), os.getgid(),
                                                    self.box(n)))
            else:
                lines.append("=%s:%s:%d:%d:%s:::" % (n, pw.pw_name, os.getuid(), os.getgid(),
                                                   self.box(n)))
        with open(self.path("users", "assign"), "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        subprocess.run([self.path("bin", "qmail-newu")], env=self.env(), check=True,
                       capture_output=True)

    def delivered(self, user):
        d = os.path.join(self.box(user) if user != "alias" else self.path("alias"), "delivered")
        out = []
        if os.path.isdir(d):
            for n in sorted(os.listdir(d)):
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
        return out

    def inject(self, sender, rcpts, body=b"Subject: test\n\nhello\n", poke=True):
        env = b"F" + sender.encode() + b"\0"
        for r in rcpts:
            env += b"T" + r.encode() + b"\0"
        env += b"\0"
        rfd, wfd = os.pipe()
        os.write(wfd, env)
        os.close(wfd)
        env = self.env()
        if not poke:
            env["STUB_NO_POKE"] = "1"
        p = subprocess.Popen([self.path("bin", "qmail-queue")], stdin=subprocess.PIPE,
                             stdout=rfd, env=env)
        os.close(rfd)
        p.communicate(body)
        assert p.returncode == 0

    def start(self, *args, extra_env=None):
        log = open(self.logfile, "ab")
        env = self.env()
        env.update(extra_env or {})
        self.proc = subprocess.Popen([self.path("bin", "qmail-start"), *args], stdout=log,
                                     stderr=subprocess.STDOUT, env=env, cwd="/",
                                     start_new_session=True)
        log.close()
        wait_for(lambda: "status:" in self.log(), 20, "qmail-send to start")

    def log(self):
        if not os.path.exists(self.logfile):
            return ""
        with open(self.logfile, "rb") as f:
            return f.read().decode(errors="replace")

    def send_pid(self):
        return self.proc.pid  # qmail-start became qmail-send

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL qmail-send only; its spawners and qmail-clean go on EOF."""
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        pgid = self.proc.pid
        self.proc = None

        def gone():
            try:
                os.killpg(pgid, 0)
                return False
            except ProcessLookupError:
                return True
        wait_for(gone, 20, "the old process group to exit")

    def queue_files(self, *subs):
        out = []
        for sub in subs or ("todo", "info", "local", "remote", "bounce", "mess", "intd"):
            for root, _, files in os.walk(self.path("queue", sub)):
                out += [os.path.join(root, f) for f in files]
        return out

    def empty_queue(self):
        return not self.queue_files()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


class SendTest(unittest.TestCase):
    def setUp(self):
        self.h = StubHome()
        self.addCleanup(self.h.cleanup)

    def wait_log(self, pattern, timeout=30, count=1):
        r = re.compile(pattern, re.M)
        return wait_for(lambda: len(r.findall(self.h.log())) >= count, timeout,
                        "log line /%s/ x%d; log:\n%s" % (pattern, count, self.h.log()[-3000:]))

    def test_local_delivery_end_to_end(self):
        h = self.h
        h.start()
        h.inject("sender@remote.test", ["Alice@Example.TEST"])
        wait_for(lambda: h.delivered("alice"), 20, "delivery to alice")
        self.wait_log(r"^end msg \d+$")
        log = h.log()
        m = re.search(r"^new msg (\d+)$", log, re.M)
        self.assertTrue(m, log)
        msg = m.group(1)
        size = None
        self.assertRegex(log, r"(?m)^info msg %s: bytes \d+ from <sender@remote\.test> qp \d+ "
                         r"uid %d$" % (msg, os.getuid()))
        self.assertRegex(log, r"(?m)^starting delivery 1: msg %s to local Alice@example\.test$"
                         % msg)
        self.assertRegex(log, r"(?m)^status: local 1/10 remote 0/20$")
        self.assertRegex(log, r"(?m)^delivery 1: success: did_0\+0\+1/$")
        self.assertRegex(log, r"(?m)^end msg %s$" % msg)
        del size
        got = h.delivered("alice")[0]
        self.assertIn(b"Return-Path: <sender@remote.test>\n", got)
        self.assertIn(b"Delivered-To: Alice@example.test\n", got)
        self.assertIn(b"X-Args: " + pwd.getpwuid(os.getuid()).pw_name.encode() +
                      b"|||./Mailbox|Alice", got)
        self.assertIn(b"hello\n", got)
        wait_for(h.empty_queue, 10, "queue to empty")

    def test_new_todo_entry_seen_without_a_poke(self):
        """qmail-send watches todo/ (inotify): a message whose qmail-queue
        did not poke the trigger is taken up at once, not at the next
        periodic scan (a minute later); one that did poke, as well."""
        h = self.h
        h.start()
        self.wait_log(r"^status: local 0/10 remote 0/20$")
        h.inject("sender@remote.test", ["alice@example.test"], poke=False)
        wait_for(lambda: h.delivered("alice"), 10, "delivery without a poke")
        h.inject("sender@remote.test", ["bob@example.test"])
        wait_for(lambda: h.delivered("bob"), 10, "delivery after a poke")
        self.assertNotIn("no inotify", h.log())

    def test_defaultdelivery_and_logger(self):
        h = self.h
        logged = os.path.join(h.tmp, "logger.out")
        # a logger that outlives the TERM to the process group, as multilog
        # under supervise does
        h.write_bin("logger", "#!/bin/sh\ntrap '' TERM\nexec cat > %s\n" % logged)
        log = open(h.logfile, "ab")
        h.proc = subprocess.Popen([h.path("bin", "qmail-start"), "./Maildir/",
                                   h.path("bin", "logger")], stdout=log, env=h.env(),
                                  start_new_session=True)
        log.close()
        h.inject("s@x.test", ["bob@example.test"])
        wait_for(lambda: h.delivered("bob"), 20, "delivery to bob")
        self.assertIn(b"|./Maildir/|", h.delivered("bob")[0])
        def logged_end():
            if not os.path.exists(logged):
                return False
            with open(logged) as f:
                return "end msg" in f.read()
        wait_for(logged_end, 20, "end msg in the logger's output")
        h.stop()
        with open(logged) as f:
            text = f.read()
        self.assertIn("delivery 1: success", text)
        self.assertIn("status: exiting", text)

    def test_routing(self):
        h = self.h
        h.control("locals", "example.test\nlocal2.test\n")
        h.control("virtualdomains", "virt.test:vd\n.wild.test:wd\nuser@special.test:sp\n"
                  "except.virt.test:\n")
        h.control("percenthack", "example.test\n")
        h.control("envnoathost", "local2.test\n")
        h.control("recipientmap", "Sales@Shop.test:carol@example.test\n"
                  "old@example.test:y2@remote.test\n")
        h.add_user("vd-", prefix=True)
        h.add_user("wd-", prefix=True)
        h.add_user("sp-", prefix=True)
        h.start()
        h.inject("s@x.test", ["carol", "dave@virt.test", "eve@a.wild.test", "user@special.test",
                              "bob%local2.test@example.test", "x@except.virt.test",
                              "y@remote.test", "z%remote2.test@example.test",
                              "sales@shop.test", "old%example.test@example.test"])
        self.wait_log(r"^delivery \d+: deferral: qmail-remote_is_not_installed_\(#4\.3\.0\)/$",
                      count=4)
        wait_for(lambda: len([1 for u in ["carol", "bob", "vd-", "wd-", "sp-"]
                              if h.delivered(u)]) == 5, 20, "local deliveries")
        wait_for(lambda: len(h.delivered("carol")) == 2, 20, "recipientmap's delivery")
        log = h.log()
        for line in ["to local carol@local2.test", "to local vd-dave@virt.test",
                     "to local wd-eve@a.wild.test", "to local sp-user@special.test",
                     "to local bob@local2.test", "to remote x@except.virt.test",
                     "to remote y@remote.test", "to remote z@remote2.test",
                     "to local carol@example.test", "to remote y2@remote.test"]:
            self.assertIn(line, log)
        self.assertIn(b"Delivered-To: vd-dave@virt.test\n", h.delivered("vd-")[0])
        self.assertIn(b"X-Args: ", h.delivered("vd-")[0])
        # remote recipients stay queued
        self.assertEqual(len(h.queue_files("remote")), 1)
        # local recipients are all checkpointed as done ('D')
        def recs():
            with open(h.queue_files("local")[0], "rb") as f:
                return f.read().split(b"\0")[:-1]
        self.assertEqual(len(recs()), 6)
        wait_for(lambda: all(r.startswith(b"D") for r in recs()), 10, "local marks")

    def test_unknown_local_goes_to_alias_and_nosuch_bounces(self):
        h = self.h
        h.start()
        h.inject("alice@example.test", ["Someone-Else@example.test", "nosuchuser@example.test"])
        wait_for(lambda: h.delivered("alias"), 20, "alias delivery")
        # The alias's extension is the address as written (qmail-getpw.c:
        # extension = local; only the passwd lookup is lower-cased).
        self.assertIn(b"X-Args: alias|-|Someone-Else|./Mailbox|Someone-Else",
                      h.delivered("alias")[0])
        wait_for(lambda: h.delivered("alice"), 20, "bounce to alice")
        b = h.delivered("alice")[0]
        self.assertIn(b"Return-Path: <>\n", b)
        self.assertIn(b"<nosuchuser@example.test>:\nSorry, no mailbox here by that name. "
                      b"(#5.1.1)\n", b)

    def test_bounce_qsbmf(self):
        h = self.h
        open(os.path.join(h.box("bob"), "perm"), "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test", "carol@example.test"],
                 b"Subject: original\n\nthe body\n")
        wait_for(lambda: h.delivered("alice"), 20, "bounce to alice")
        self.wait_log(r"^bounce msg \d+ qp \d+$")
        self.wait_log(r"^delivery \d+: failure: Sorry,_no_mailbox_here_by_that_name._"
                      r"\(#5\.1\.1\)/$")
        b = h.delivered("alice")[0].decode()
        head, _, body = b.partition("\n\n")
        self.assertIn("Return-Path: <>", head)
        self.assertIn("From: MAILER-DAEMON@example.test", b)
        self.assertIn("To: alice@example.test", b)
        self.assertIn("Subject: failure notice", b)
        self.assertIn(
            "Hi. This is the qmail-send program at example.test.\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "<bob@example.test>:\n"
            "Sorry, no mailbox here by that name. (#5.1.1)\n\n"
            "--- Below this line is a copy of the message.\n\n"
            "Return-Path: <alice@example.test>\n"
            "Received: (qmail", b)
        self.assertIn("Subject: original\n\nthe body\n", b)
        self.assertNotIn("carol@example.test>:", b)
        self.assertEqual(len(h.delivered("carol")), 1)
        wait_for(h.empty_queue, 20, "queue to empty")

    def test_double_and_triple_bounce(self):
        h = self.h
        h.control("bouncefrom", "bounces\n")
        h.control("bouncehost", "bh.test\n")
        open(os.path.join(h.box("bob"), "perm"), "w").close()
        h.start()
        # double bounce: the sender is empty
        h.inject("", ["bob@example.test"])
        wait_for(lambda: h.delivered("postmaster"), 20, "double bounce")
        b = h.delivered("postmaster")[0].decode()
        self.assertIn("Return-Path: <#@[]>", b)
        self.assertIn("From: bounces@bh.test", b)
        self.assertIn("--- Below this line is the original bounce.", b)
        # triple bounce: a failing double bounce is discarded
        h.inject("#@[]", ["bob@example.test"])
        self.wait_log(r"^triple bounce: discarding bounce/\d+$")
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertEqual(len(h.delivered("postmaster")), 1)

    def test_deferral_then_alrm_retry(self):
        h = self.h
        flag = os.path.join(h.box("bob"), "temp")
        open(flag, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        self.wait_log(r"^delivery 1: deferral: Temporary_trouble._\(#4\.2\.1\)/$")
        # retry time is recorded as the mtime of local/<s>/<id>: ~100s ahead
        lst = h.queue_files("local")
        self.assertEqual(len(lst), 1)
        self.assertGreater(os.stat(lst[0]).st_mtime, time.time() + 30)
        os.unlink(flag)
        os.kill(h.send_pid(), signal.SIGALRM)
        wait_for(lambda: h.delivered("bob"), 20, "retry after ALRM")
        self.wait_log(r"^delivery 2: success")
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertEqual(h.delivered("alice"), [])

    def test_retry_schedule_survives_restart(self):
        h = self.h
        open(os.path.join(h.box("bob"), "temp"), "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        self.wait_log(r"^delivery 1: deferral: ")
        self.wait_log(r"^status: local 0/10 remote 0/20$", count=2)
        h.stop()
        os.unlink(h.logfile)
        h.start()
        # A new message is preprocessed and delivered; dispatch of due
        # messages comes first in every round, so had bob's retry been due
        # (not ~100 s ahead, as local/<s>/<id>'s mtime says) it would have
        # started before this one ended.
        h.inject("alice@example.test", ["carol@example.test"])
        self.wait_log(r"^end msg \d+$")
        self.assertNotIn("to local bob@example.test", h.log())
        self.assertEqual(len(h.queue_files("local")), 1)
        os.kill(h.send_pid(), signal.SIGALRM)
        self.wait_log(r"^starting delivery \d+: msg \d+ to local bob@example\.test$")

    def test_queuelifetime_gives_up(self):
        h = self.h
        open(os.path.join(h.box("bob"), "temp"), "w").close()
        h.control("queuelifetime", "0\n")
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: h.delivered("alice"), 20, "bounce")
        b = h.delivered("alice")[0].decode()
        self.assertIn("<bob@example.test>:\nTemporary trouble. (#4.2.1)\nI'm not going to try "
                      "again; this message has been in the queue too long.\n", b)

    def test_term_waits_for_deliveries(self):
        h = self.h
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: os.path.isdir(os.path.join(h.box("bob"), "running")) and
                 os.listdir(os.path.join(h.box("bob"), "running")), 20, "delivery to start")
        os.kill(h.send_pid(), signal.SIGTERM)
        time.sleep(0.3)
        self.assertIsNone(h.proc.poll(), "qmail-send exited with a delivery running")
        self.assertNotIn("status: exiting", h.log())
        os.unlink(slow)
        h.proc.wait(20)
        self.assertEqual(h.proc.returncode, 0)
        self.assertIn("delivery 1: success", h.log())
        self.assertTrue(h.log().rstrip().endswith("status: exiting"))

    def running(self, user):
        run = os.path.join(self.h.box(user), "running")
        return os.path.isdir(run) and os.listdir(run)

    def test_direct_delivery_writes_no_queue_files(self):
        """A new message whose recipients all get a delivery slot at once is
        delivered from todo/<id>: no info, local or remote file is written;
        todo/<id> stays until the delivery succeeded, then everything goes."""
        h = self.h
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: self.running("bob"), 20, "delivery to start")
        self.assertEqual(len(h.queue_files("todo")), 1)
        self.assertEqual(len(h.queue_files("mess")), 1)
        self.assertEqual(h.queue_files("info", "local", "remote"), [])
        self.assertRegex(h.log(), r"(?m)^info msg \d+: bytes \d+ from <alice@example\.test> ")
        os.unlink(slow)
        self.wait_log(r"^end msg \d+$")
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertEqual(len(h.delivered("bob")), 1)

    def test_direct_message_checkpoints_each_recipient(self):
        """Two recipients delivered directly: one succeeds, one is deferred.
        The lists are written then (with the success marked done), so the
        retry goes to the deferred recipient only, after a restart too."""
        h = self.h
        flag = os.path.join(h.box("bob"), "temp")
        open(flag, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test", "carol@example.test"])
        self.wait_log(r"^delivery \d+: deferral: ")
        self.wait_log(r"^delivery \d+: success: ")
        self.wait_log(r"^status: local 0/10 remote 0/20$", count=2)
        lists = h.queue_files("local")
        self.assertEqual(len(lists), 1)
        with open(lists[0], "rb") as f:
            self.assertEqual(sorted(f.read().split(b"\0")),
                             [b"", b"Dcarol@example.test", b"Tbob@example.test"])
        self.assertEqual(len(h.queue_files("info")), 1)
        wait_for(lambda: not h.queue_files("todo"), 20, "todo/<id> to go")
        h.stop()
        os.unlink(flag)
        os.unlink(h.logfile)
        h.start()
        os.kill(h.send_pid(), signal.SIGALRM)
        wait_for(lambda: h.delivered("bob"), 20, "bob's retry")
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertEqual(len(h.delivered("carol")), 1)
        self.assertEqual(len(h.delivered("bob")), 1)

    def test_term_finishes_direct_message(self):
        """TERM while a direct delivery runs: qmail-send waits for it and
        removes the message before exiting, so a restart delivers nothing
        again."""
        h = self.h
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: self.running("bob"), 20, "delivery to start")
        os.kill(h.send_pid(), signal.SIGTERM)
        os.unlink(slow)
        h.proc.wait(30)
        self.assertEqual(h.proc.returncode, 0)
        self.assertEqual(h.queue_files(), [])
        h.proc = None
        h.start()
        h.inject("alice@example.test", ["carol@example.test"])
        wait_for(lambda: h.delivered("carol"), 20, "a later message")
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertEqual(len(h.delivered("bob")), 1)

    def test_sigkill_during_direct_delivery_delivers_again(self):
        """qmail-send killed while a direct delivery runs: todo/<id> is
        still there, so the restart delivers the message again (a
        duplicate, never a loss)."""
        h = self.h
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: self.running("bob"), 20, "delivery to start")
        os.kill(h.send_pid(), signal.SIGKILL)
        os.unlink(slow)
        h.kill()
        self.assertEqual(len(h.queue_files("todo")), 1)
        h.start()
        wait_for(h.empty_queue, 20, "queue to empty")
        self.assertGreaterEqual(len(h.delivered("bob")), 1)

    def test_direct_messages_wait_for_slots_without_files(self):
        """More new messages than delivery slots: those without a slot wait
        in memory for one, still without info, local or remote files (only
        todo/<id>), and are delivered in turn. A qmail-send killed while
        they wait loses none of them: the restart takes them from todo/."""
        h = self.h
        h.control("concurrencylocal", "1\n")
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        for i in range(5):
            h.inject("alice@example.test", ["bob@example.test"],
                     body=b"Subject: m%d\n\nmessage %d\n" % (i, i))
        wait_for(lambda: self.running("bob"), 20, "the first delivery to start")
        wait_for(lambda: h.log().count("\ninfo msg ") == 5, 20, "all five to be taken up")
        self.assertEqual(len(h.queue_files("todo")), 5)
        self.assertEqual(h.queue_files("info", "local", "remote"), [])
        self.assertIn("status: local 1/1 remote 0/20", h.log())
        self.assertNotIn("status: local 2/", h.log())
        os.kill(h.send_pid(), signal.SIGKILL)
        os.unlink(slow)
        h.kill()
        self.assertEqual(len(h.queue_files("todo")), 5)
        h.start()
        wait_for(h.empty_queue, 30, "queue to empty")
        got = b"".join(h.delivered("bob"))
        for i in range(5):
            self.assertIn(b"message %d\n" % i, got)
        # Each was delivered once, but the one running at the kill (twice).
        self.assertIn(len(h.delivered("bob")), (5, 6))

    def test_channel_on_hold_preprocesses_new_mail(self):
        """concurrencylocal 0 puts local deliveries on hold: a new message
        cannot wait for a slot, so it is preprocessed (info and local
        written, todo/<id> removed) and nothing is delivered."""
        h = self.h
        h.control("concurrencylocal", "0\n")
        h.start()
        for _ in range(3):
            h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: len(h.queue_files("local")) == 3 and not h.queue_files("todo"), 30,
                 "three messages preprocessed")
        self.assertEqual(len(h.queue_files("info")), 3)
        self.assertNotIn("starting delivery", h.log())
        self.assertEqual(h.delivered("bob"), [])

    def test_hup_rereads_locals(self):
        h = self.h
        h.control("locals", "example.test\n")
        h.start()
        h.control("locals", "example.test\nnew.test\n")
        os.kill(h.send_pid(), signal.SIGHUP)
        time.sleep(0.2)  # the HUP is handled before the trigger poke below
        h.inject("s@x.test", ["bob@new.test"])
        wait_for(lambda: h.delivered("bob"), 20, "delivery after HUP")

    def test_second_send_refused(self):
        h = self.h
        h.start()
        p = subprocess.run([h.path("bin", "qmail-send")], env=h.env(), capture_output=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 111)

    def test_restart_after_sigkill_finishes_queue(self):
        h = self.h
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        h.inject("alice@example.test", ["bob@example.test", "carol@example.test"])
        wait_for(lambda: h.delivered("carol"), 20, "carol's delivery")
        self.wait_log(r"^delivery \d+: success")  # carol is checkpointed
        wait_for(lambda: os.path.isdir(os.path.join(h.box("bob"), "running")) and
                 os.listdir(os.path.join(h.box("bob"), "running")), 20, "bob's delivery")
        os.kill(h.send_pid(), signal.SIGKILL)
        os.unlink(slow)
        h.kill()
        # more mail while qmail-send is down
        h.inject("alice@example.test", ["carol@example.test"])
        h.start()
        wait_for(lambda: len(h.delivered("carol")) == 2, 20, "todo processed after restart")
        wait_for(lambda: h.delivered("bob"), 20, "bob redelivered after restart")
        wait_for(h.empty_queue, 20, "queue to empty")
        # carol was checkpointed ('D') before the kill: not delivered again
        self.assertEqual(len(h.delivered("carol")), 2)

    def test_restart_finishes_half_done_message(self):
        """A message whose lists are all done but whose info remains (crash
        during cleanup) is finished on restart."""
        h = self.h
        ident = 4242
        q = h.path("queue")
        with open(os.path.join(q, "mess", str(ident % SPLIT), str(ident)), "w") as f:
            f.write("Subject: x\n\nx\n")
        with open(os.path.join(q, "info", str(ident % SPLIT), str(ident)), "wb") as f:
            f.write(b"Fa@b.test\0")
        with open(os.path.join(q, "local", str(ident % SPLIT), str(ident)), "wb") as f:
            f.write(b"Dbob@example.test\0Tcarol@example.test\0")
        h.start()
        wait_for(lambda: h.delivered("carol"), 20, "pending recipient")
        self.wait_log(r"^end msg 4242$")
        self.assertEqual(h.delivered("bob"), [])
        wait_for(h.empty_queue, 20, "queue to empty")

    def test_backlog_does_not_starve_queued_delivery(self):
        """2000 new messages in todo/ must not hold up a message that is
        already queued: its delivery starts before most of todo/ is
        preprocessed."""
        h = self.h
        q = h.path("queue")
        old = 7
        with open(os.path.join(q, "mess", str(old % SPLIT), str(old)), "w") as f:
            f.write("Subject: old\n\nold\n")
        with open(os.path.join(q, "info", str(old % SPLIT), str(old)), "wb") as f:
            f.write(b"Fa@b.test\0")
        with open(os.path.join(q, "local", str(old % SPLIT), str(old)), "wb") as f:
            f.write(b"Tcarol@example.test\0")
        n = 2000
        for i in range(n):
            ident = 100000 + i
            with open(os.path.join(q, "mess", str(ident % SPLIT), str(ident)), "w") as f:
                f.write("Subject: flood\n\nflood\n")
            with open(os.path.join(q, "todo", str(ident)), "wb") as f:
                f.write(b"u0\0p1\0Fa@b.test\0Tbob@example.test\0")
        open(os.path.join(h.box("bob"), "temp"), "w").close()  # keep the flood queued
        h.start()
        self.wait_log(r"^delivery \d+: success: did_0\+0\+1/$")
        log = h.log()
        first = log.index("starting delivery 1: msg %d " % old)
        new_before = log[:first].count("\nnew msg ")
        self.assertLess(new_before, 100, "queued delivery waited behind %d new messages"
                        % new_before)
        # and new mail keeps flowing to deliveries while todo/ drains
        self.wait_log(r"^new msg 1002\d\d$", 120)
        log = h.log()
        last_new = log.rindex("\nnew msg ")
        self.assertIn("starting delivery", log[:last_new][log.index("new msg 100"):])

    def test_stalled_channel_takes_a_bounded_number_of_new_messages(self):
        """A channel whose deliveries do not move takes only so many new
        messages from todo/ into memory (twice its concurrency, at least
        64); the rest stay in todo/ as they are, and qmail-send sleeps
        instead of spinning over them. New mail for the other channel
        still gets through at once. When the channel moves again todo/
        drains, and every message is delivered exactly once."""
        h = self.h
        h.control("concurrencyremote", "1\n")
        hold = os.path.join(h.tmp, "hold")
        open(hold, "w").close()
        got = os.path.join(h.tmp, "remote.got")
        h.write_bin("qmail-remote", "#!/bin/sh\ncat >/dev/null\n"
                    "while [ -e %s ]; do sleep 0.05; done\n"
                    "echo \"$3\" >> %s\n"
                    "printf 'r\\0K%%s accepted message./Remote host said: 250 ok\\n\\0' $1\n"
                    % (hold, got))
        q = h.path("queue")
        n = 300
        for i in range(n):
            ident = 200000 + i
            with open(os.path.join(q, "mess", str(ident % SPLIT), str(ident)), "w") as f:
                f.write("Subject: far %d\n\nfar\n" % i)
            with open(os.path.join(q, "todo", str(ident)), "wb") as f:
                f.write(b"u0\0p1\0Fa@b.test\0Tr%d@far.test\0" % i)
        h.start()
        self.wait_log(r"^starting delivery \d+: msg \d+ to remote ")
        bound = 64  # send.h: kFreshMin, above 2 x concurrencyremote here
        wait_for(lambda: h.log().count("\nnew msg ") >= 1 + bound, 30, "the first messages")
        pid = h.send_pid()

        def cpu():
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        before = cpu()
        time.sleep(2)
        self.assertLess(cpu() - before, 0.5, "qmail-send spins while the channel is full")
        taken = h.log().count("\nnew msg ")
        # One delivering, `bound` waiting; a slice (8) may overshoot.
        self.assertLessEqual(taken, 1 + bound + 8)
        # The local channel is not held up by the remote backlog: neither a
        # local message nor the local recipient of a message for both.
        h.inject("alice@example.test", ["bob@example.test"])
        wait_for(lambda: len(h.delivered("bob")) == 1, 30,
                 "local delivery during the remote backlog")
        h.inject("alice@example.test", ["carol@example.test", "zz@far.test"])
        wait_for(lambda: len(h.delivered("carol")) == 1, 30,
                 "the local half of a message for both channels")
        self.assertLessEqual(h.log().count("\nnew msg "), taken + 2)
        os.unlink(hold)
        wait_for(h.empty_queue, 120, "todo/ to drain")
        with open(got) as f:
            rcpts = f.read().split()
        self.assertEqual(sorted(rcpts),
                         sorted(["zz@far.test"] + ["r%d@far.test" % i for i in range(n)]))
        self.assertEqual(h.log().count("\nnew msg "), n + 2)

    def test_message_whose_info_could_not_be_read_is_read_again(self):
        """A queued message whose info file cannot be read ("will try again
        later") is read again after a while, not left until a restart."""
        h = self.h
        ident = 4343
        q = h.path("queue")
        with open(os.path.join(q, "mess", str(ident % SPLIT), str(ident)), "w") as f:
            f.write("Subject: x\n\nx\n")
        info = os.path.join(q, "info", str(ident % SPLIT), str(ident))
        with open(info, "wb") as f:
            f.write(b"?garbage\0")
        with open(os.path.join(q, "local", str(ident % SPLIT), str(ident)), "wb") as f:
            f.write(b"Tcarol@example.test\0")
        h.start()
        self.wait_log(r"^warning: unknown record type in info/")
        with open(info, "wb") as f:
            f.write(b"Fa@b.test\0")
        wait_for(lambda: h.delivered("carol"), 60, "the message after its info is readable")
        self.wait_log(r"^end msg 4343$")

    def test_concurrencylocal_honoured(self):
        h = self.h
        h.control("concurrencylocal", "3\n")
        slow = os.path.join(h.box("bob"), "slow")
        open(slow, "w").close()
        h.start()
        for _ in range(8):
            h.inject("alice@example.test", ["bob@example.test"])
        run = os.path.join(h.box("bob"), "running")
        wait_for(lambda: os.path.isdir(run) and len(os.listdir(run)) == 3, 20,
                 "three deliveries running")
        time.sleep(0.5)
        self.assertEqual(len(os.listdir(run)), 3)
        self.assertIn("status: local 3/3 remote 0/20", h.log())
        os.unlink(slow)
        wait_for(lambda: len(h.delivered("bob")) == 8, 30, "all deliveries")
        with open(os.path.join(h.box("bob"), "concurrency")) as f:
            self.assertEqual(max(int(x) for x in f.read().split()), 3)

    def test_remote_via_qmail_remote(self):
        h = self.h
        h.write_bin("qmail-remote", "#!/bin/sh\ncat >/dev/null\n"
                    "case \"$3\" in\n"
                    "ok@*) printf 'r\\0K%s accepted message./Remote host said: 250 ok\\n\\0' $1;;\n"
                    "bad@*) printf 'h%s does not like recipient.\\nRemote host said: 550 no\\n"
                    "\\0DGiving up on %s.\\n\\0' $1 $1;;\n"
                    "*) printf 's%s busy.\\n\\0Z%s busy.\\n\\0' $1 $1;;\nesac\n")
        h.start()
        h.inject("alice@example.test", ["ok@far.test", "bad@far.test", "later@far.test"])
        self.wait_log(r"^delivery \d+: success: far\.test_accepted_message\./Remote_host_said:"
                      r"_250_ok/$")
        self.wait_log(r"^delivery \d+: failure: far\.test_does_not_like_recipient\./Remote_host_"
                      r"said:_550_no/Giving_up_on_far\.test\./$")
        self.wait_log(r"^delivery \d+: deferral: far\.test_busy\./far\.test_busy\./$")
        wait_for(lambda: h.delivered("alice"), 20, "bounce of bad@far.test")
        self.assertIn(b"<bad@far.test>:\nfar.test does not like recipient.\n",
                      h.delivered("alice")[0])

    def test_qmailremote_names_another_program(self):
        """notqmail's qmail-rspawn: $QMAILREMOTE in qmail-send's environment
        is run instead of HOME/bin/qmail-remote."""
        h = self.h
        h.write_bin("qmail-remote", "#!/bin/sh\ncat >/dev/null\n"
                    "printf 'Z%s the wrong program.\\n\\0' $1\n")
        alt = os.path.join(h.tmp, "alt-remote")
        with open(alt, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\necho \"$@\" >> %s.args\n"
                    "printf 'r\\0K%%s accepted message./Remote host said: 250 ok\\n\\0' $1\n"
                    % alt)
        os.chmod(alt, 0o755)
        h.start(extra_env={"QMAILREMOTE": alt})
        h.inject("alice@example.test", ["ok@far.test"])
        self.wait_log(r"^delivery 1: success: far\.test_accepted_message\./")
        with open(alt + ".args") as f:
            self.assertEqual(f.read(), "far.test alice@example.test ok@far.test\n")

    def test_rspawn_rests_in_the_exec_mode_too(self):
        """With $QMAILREMOTE (a program exec'd per delivery) qmail-rspawn
        also rests as qmail-idle while no delivery is under way, and comes
        back (same pid) for each new one."""
        h = self.h
        shutil.copy(os.path.join(BUILD, "qmail-idle"), h.path("bin", "qmail-idle"))
        alt = os.path.join(h.tmp, "alt-remote")
        with open(alt, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n"
                    "printf 'r\\0K%s accepted message./Remote host said: 250 ok\\n\\0' $1\n")
        os.chmod(alt, 0o755)
        h.start(extra_env={"QMAILREMOTE": alt})
        rspawn = rspawn_pid(h.send_pid())
        idle = os.path.realpath(h.path("bin", "qmail-idle"))

        def resting():
            return os.readlink("/proc/%d/exe" % rspawn) == idle
        wait_for(resting, 20, "qmail-rspawn to rest")
        for n in (1, 2):
            h.inject("alice@example.test", ["ok%d@far.test" % n])
            self.wait_log(r"^delivery \d+: success: far\.test_accepted_message\./", count=n)
            wait_for(resting, 20, "qmail-rspawn to rest again")

    def test_concurrencyremote_above_120(self):
        h = self.h
        h.control("concurrencyremote", "300\n")
        h.start()
        self.wait_log(r"^status: local 0/10 remote 0/300$")


if __name__ == "__main__":
    unittest.main()
