"""Shared harness for integration tests: a real temporary qmail home made
by qmail-setup, the real programs, and helpers to wait on events.

Environment (set by ctest): QMAIL_BUILD (build dir with the programs),
QMAIL_SOURCE (source tree).
"""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("QMAIL_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "debug")
SOURCE = os.environ.get("QMAIL_SOURCE") or os.path.join(os.path.dirname(__file__), "..", "..")
HOSTNAME = "example.test"


def wait_for(pred, timeout=30.0, what="condition"):
    """Polls pred() until true; fails the test with `what` on timeout."""
    deadline = time.time() + timeout
    delay = 0.005
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
    raise AssertionError("timed out waiting for " + what)


def is_root():
    return os.geteuid() == 0


def proc_comm(pid):
    """A process's name (/proc/PID/comm), or "" when it is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def child_pids(parent, name=None):
    """Pids whose parent is `parent` (and, with `name`, whose process name
    is that, or one of them when `name` is a tuple)."""
    names = (name,) if isinstance(name, str) else name
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rfind(")") + 2:].split()[1]) != parent:
            continue
        if names is None or proc_comm(int(d)) in names:
            out.append(int(d))
    return out


def rspawn_pid(send_pid, timeout=20.0):
    """qmail-send's one qmail-rspawn. Going to rest and coming back, it is
    named qmail-idle for a moment (between its exec and qmail-idle's
    prctl), so that name counts too."""
    pids = wait_for(lambda: child_pids(send_pid, ("qmail-rspawn", "qmail-idle")), timeout,
                    "qmail-send's qmail-rspawn")
    if len(pids) != 1:
        raise AssertionError("qmail-send has %d qmail-rspawn children" % len(pids))
    return pids[0]


def setup_args(home_dir, single_user=True):
    """The qmail-setup command line for `home_dir` (from the build dir)."""
    args = [os.path.join(BUILD, "qmail-setup")]
    if single_user:
        args.append("--single-user")
    args.append(home_dir)
    return args


def as_user(uid, gid, args):
    """`args` prefixed to run with uid/gid (and that user's groups); root only."""
    return ["setpriv", "--reuid", str(uid), "--regid", str(gid), "--init-groups", "--"] + list(args)


class ThrowawayUser:
    """A system account that exists for one test (root only): useradd on
    creation, userdel on delete(). Its home is `home` (not created)."""
    _count = 0

    def __init__(self, home="/nonexistent"):
        ThrowawayUser._count += 1
        self.name = "qmt%d_%d" % (os.getpid() % 100000, ThrowawayUser._count)
        subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", "-d", home, self.name],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, home

    def run(self, args, **kw):
        """Runs `args` as this user; returns the CompletedProcess."""
        kw.setdefault("capture_output", True)
        kw.setdefault("timeout", 120)
        return subprocess.run(as_user(self.uid, self.gid, args), **kw)

    def delete(self):
        # userdel refuses while a process runs as the user (a qmail-local
        # worker that was just told to leave): try again for a while.
        deadline = time.monotonic() + 10
        while subprocess.run(["userdel", self.name], capture_output=True).returncode == 8:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        subprocess.run(["groupdel", self.name], capture_output=True)


class Home:
    """A fresh qmail home in a temporary directory.

    single_user=True makes an unprivileged home (everything runs as the
    current user, mailboxes are users/assign entries); as root with
    single_user=False it is a real root-mode home with qmail's users."""

    def __init__(self, single_user=True, hostname=HOSTNAME, keep=False):
        self.tmp = tempfile.mkdtemp(prefix="qmail-test-")
        os.chmod(self.tmp, 0o755)
        self.dir = os.path.join(self.tmp, "home")
        self.keep = keep
        self.send = None
        self.logfile = os.path.join(self.tmp, "send.log")
        self.single_user_setup = single_user
        self.setup()
        self.run_ok("config-fast", [hostname])

    def setup(self):
        """Runs qmail-setup on this home (again); returns the CompletedProcess."""
        p = subprocess.run(setup_args(self.dir, self.single_user_setup), capture_output=True,
                           timeout=300)
        if p.returncode != 0:
            raise AssertionError("qmail-setup exited %d: %s" % (
                p.returncode, p.stderr.decode(errors="replace")))
        return p

    # -- paths and running programs
    def path(self, *rel):
        return os.path.join(self.dir, *rel)

    def bin(self, prog):
        return self.path("bin", prog)

    def env(self, **extra):
        e = dict(os.environ)
        e["QMAILHOME"] = self.dir
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def run(self, prog, args=(), input=b"", env=None, timeout=60, **kw):
        return subprocess.run([self.bin(prog), *args], input=input,
                              env=env or self.env(), capture_output=True,
                              timeout=timeout, **kw)

    def run_ok(self, prog, args=(), input=b"", env=None):
        p = self.run(prog, args, input=input, env=env)
        if p.returncode != 0:
            raise AssertionError("%s %s exited %d: %s" % (
                prog, " ".join(args), p.returncode, p.stderr.decode(errors="replace")))
        return p

    def control(self, name, text):
        with open(self.path("control", name), "w") as f:
            f.write(text)

    # -- mailboxes
    def add_user(self, name, mbox=False):
        """Adds a virtual user `name` (users/assign, qmail-newu) whose home
        is HOME/mailboxes/<name> with a Maildir, and returns that home."""
        uhome = self.path("mailboxes", name)
        os.makedirs(uhome, exist_ok=True)
        if not mbox:
            self.run_ok("maildirmake", [os.path.join(uhome, "Maildir")])
        st = os.stat(self.path("users"))
        ids = self.user_ids()
        lines = []
        assign = self.path("users", "assign")
        if os.path.exists(assign):
            with open(assign) as f:
                lines = [l for l in f.read().splitlines() if l and l != "."]
        lines.append("=%s:%s:%d:%d:%s:::" % (name, ids[0], ids[1], ids[2], uhome))
        with open(assign, "w") as f:
            f.write("\n".join(lines) + "\n.\n")
        self.run_ok("qmail-newu")
        if os.geteuid() == 0:
            for root, dirs, files in os.walk(uhome):
                for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                    os.chown(n, ids[1], ids[2])
        del st
        return uhome

    def user_ids(self):
        """(user name, uid, gid) that virtual mailboxes are owned by."""
        if os.geteuid() == 0 and not self.single_user():
            pw = pwd.getpwnam("alias")
            return ("alias", pw.pw_uid, pw.pw_gid)
        pw = pwd.getpwuid(os.getuid())
        return (pw.pw_name, os.getuid(), os.getgid())

    def single_user(self):
        ids = self.path("users", "ids")
        if not os.path.exists(ids):
            return os.geteuid() != 0
        with open(ids) as f:
            entries = dict((l.split(":")[0], l.split(":")[1]) for l in f if ":" in l)
        return entries.get("qmailq") == entries.get("alias")

    def maildir(self, user_home, sub="new"):
        """Names of messages in user_home/Maildir/<sub>."""
        d = os.path.join(user_home, "Maildir", sub)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def read_maildir(self, user_home):
        out = []
        for n in self.maildir(user_home):
            with open(os.path.join(user_home, "Maildir", "new", n), "rb") as f:
                out.append(f.read())
        return out

    # -- the running system
    def start(self, defaultdelivery="./Maildir/"):
        """Starts qmail-start with its log on self.logfile."""
        log = open(self.logfile, "ab")
        before = len(self.log())  # a restart appends to the old log
        self.send = subprocess.Popen([self.bin("qmail-start"), defaultdelivery],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     env=self.env(), cwd="/", start_new_session=True)
        log.close()
        wait_for(lambda: "status:" in self.log()[before:], 60, "qmail-send to start")

    def log(self):
        if not os.path.exists(self.logfile):
            return ""
        with open(self.logfile, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.send and self.send.poll() is None:
            try:
                # As svc -d does: TERM to qmail-send (qmail-start became it);
                # it closes its spawners' pipes and they exit on their own.
                os.kill(self.send.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.send.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.send.pid, signal.SIGKILL)
                self.send.wait()
        # Whatever is left of the group (a spawner still finishing) goes too.
        try:
            if self.send:
                os.killpg(self.send.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.send = None

    def inject(self, message, args=("-t",), prog="sendmail", env=None):
        return self.run_ok(prog, list(args), input=message, env=env)

    def queue_files(self, sub):
        out = []
        for root, _, files in os.walk(self.path("queue", sub)):
            out += files
        return out

    def cleanup(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def conformance_home():
    """A fresh home as the black-box checks use one: root-mode when run as
    root, single-user otherwise."""
    return Home(single_user=not is_root())


def queue_raw(home, sender, recipients, message):
    """Queues `message` with the home's qmail-queue and the envelope as
    given (no rewriting by qmail-inject); returns qmail-queue's exit code."""
    r, w = os.pipe()
    env = b"F" + sender.encode() + b"\0" + b"".join(b"T" + x.encode() + b"\0"
                                                    for x in recipients) + b"\0"
    os.write(w, env)
    os.close(w)
    proc = subprocess.Popen([home.bin("qmail-queue")], stdin=subprocess.PIPE, stdout=r,
                            env=home.env())
    # qmail-queue reads the envelope from descriptor 1.
    proc.stdin.write(message)
    proc.stdin.close()
    code = proc.wait(60)
    os.close(r)
    return code


def assign(home, *lines):
    """Adds users/assign lines (before the final ".") and runs qmail-newu."""
    path = home.path("users", "assign")
    with open(path) as f:
        old = [l for l in f.read().splitlines() if l and l != "."]
    with open(path, "w") as f:
        f.write("\n".join(old + list(lines)) + "\n.\n")
    home.run_ok("qmail-newu")


class HomeTestCase(unittest.TestCase):
    """A TestCase with a fresh single-user home per test in self.home."""
    single_user = True

    def setUp(self):
        self.home = Home(single_user=self.single_user)
        self.addCleanup(self.home.cleanup)
