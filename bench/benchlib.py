"""Shared parts of the benchmarks in bench/: cgroups for CPU accounting,
memory sampling, Maildir delivery watching, the test message, and the two
systems under test (our release build in a fresh single-user home, and a
private Postfix instance from Debian's packages). Used by bench/local-inject
and bench/smtp; not part of the mail system."""
import ctypes
import fcntl
import os
import pwd
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

PROG = os.path.basename(sys.argv[0])
REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PAGE = os.sysconf("SC_PAGE_SIZE")
PF_USER = "benchpf"
OURS_USER = "bench"
OURS_ROOT_USER = "benchq"  # the mailbox's owner in a root-mode home (--root-home)
MESSAGE_BYTES = 2048
STALL_SECONDS = 60.0
SYSCALLS = ("fsync,fdatasync,sync_file_range,sync,syncfs,msync,"
            "link,linkat,rename,renameat,renameat2")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def die(msg):
    log("%s: fatal: %s" % (PROG, msg))
    sys.exit(111)


def run(args, **kw):
    kw.setdefault("check", True)
    return subprocess.run(args, **kw)


# ---------------------------------------------------------------- cgroups

class CGroup:
    """A cgroup for one system: CPU time charged to it, and its processes."""

    def __init__(self, name):
        self.path = None
        candidates = []
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            candidates.append(("v2", "/sys/fs/cgroup"))
        if os.path.exists("/sys/fs/cgroup/cpuacct/cpuacct.usage"):
            candidates.append(("v1", "/sys/fs/cgroup/cpuacct"))
        if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs"):
            candidates.append(("v2", "/sys/fs/cgroup/unified"))
        for kind, root in candidates:
            p = os.path.join(root, "%s-%d" % (name, os.getpid()))
            try:
                os.mkdir(p)
            except OSError:
                continue
            if kind == "v2" and not os.path.exists(os.path.join(p, "cpu.stat")):
                os.rmdir(p)
                continue
            self.kind, self.path = kind, p
            break
        if self.path is None:
            die("cannot create a cgroup (need cgroup v2 or v1 cpuacct, as root)")
        self.procs_file = os.path.join(self.path, "cgroup.procs")

    def join_self(self):
        """For preexec_fn: moves the calling (child) process in."""
        with open(self.procs_file, "w") as f:
            f.write(str(os.getpid()))

    def cpu_ns(self):
        """(total, user, system) nanoseconds charged so far."""
        if self.kind == "v2":
            d = {}
            with open(os.path.join(self.path, "cpu.stat")) as f:
                for line in f:
                    k, v = line.split()
                    d[k] = int(v)
            return (d["usage_usec"] * 1000, d.get("user_usec", 0) * 1000,
                    d.get("system_usec", 0) * 1000)

        def rd(n):
            with open(os.path.join(self.path, n)) as f:
                return int(f.read())
        return (rd("cpuacct.usage"), rd("cpuacct.usage_user"), rd("cpuacct.usage_sys"))

    def pids(self):
        try:
            with open(self.procs_file) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def pss_bytes(self):
        """Proportional set size of the cgroup's processes: shared pages
        shared out (smaps_rollup), unlike rss_bytes, which counts a shared
        page once per process. Slower to read: sampled less often."""
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, IndexError, ValueError):
                pass
        return total

    def rss_bytes(self):
        total = 0
        for pid in self.pids():
            try:
                with open("/proc/%d/statm" % pid) as f:
                    total += int(f.read().split()[1]) * PAGE
            except (OSError, IndexError, ValueError):
                pass
        return total

    def remove(self):
        if not self.path:
            return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while self.pids() and time.time() < deadline:
            time.sleep(0.05)
        try:
            os.rmdir(self.path)
        except OSError as e:
            log(PROG + ": cannot remove %s: %s" % (self.path, e))
        self.path = None


class MemSampler(threading.Thread):
    # Every sample reads /proc/PID/statm of each process of the system (a
    # few dozen files): at 20 samples a second that was about 25 system
    # calls per message of the SMTP-in benchmark, taken from the CPU that
    # both systems share. Five a second still sees each run's plateau.
    # PSS (smaps_rollup walks each process's page tables) every
    # `pss_every` samples: once a second.
    def __init__(self, cg, period=0.2, pss_every=5):
        super().__init__(daemon=True)
        self.cg, self.period, self.pss_every = cg, period, pss_every
        self.peak = 0
        self.peak_pss = 0
        self.stop_ev = threading.Event()

    def run(self):
        n = 0
        while not self.stop_ev.is_set():
            self.peak = max(self.peak, self.cg.rss_bytes())
            if n % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, self.cg.pss_bytes())
            n += 1
            self.stop_ev.wait(self.period)

    def finish(self):
        self.stop_ev.set()
        self.join()
        return self.peak


# ---------------------------------------------------------------- inotify

_libc = ctypes.CDLL(None, use_errno=True)
IN_CREATE, IN_MOVED_TO, IN_Q_OVERFLOW, IN_ISDIR = 0x100, 0x80, 0x4000, 0x40000000
IN_CLOEXEC = 0o2000000


class DeliveryWatch(threading.Thread):
    """Counts files appearing in a Maildir/new (link or rename into it) and
    records the monotonic time at which the count reaches `target`."""

    def __init__(self, newdir, target):
        super().__init__(daemon=True)
        self.newdir, self.target = newdir, target
        self.count = 0
        self.last_event = time.monotonic()
        self.done_at = None
        self.done = threading.Event()
        self.fd = _libc.inotify_init1(IN_CLOEXEC)
        if self.fd < 0:
            die("inotify_init1: %s" % os.strerror(ctypes.get_errno()))
        if _libc.inotify_add_watch(self.fd, newdir.encode(), IN_CREATE | IN_MOVED_TO) < 0:
            die("inotify_add_watch %s: %s" % (newdir, os.strerror(ctypes.get_errno())))

    # Between reads the thread sleeps a little, so that the events of many
    # deliveries come in one read: one wakeup per delivery took about 1% of
    # the CPU that the measured system needs. The time at which the target
    # is reached is taken from the directory's change time (each link or
    # rename into new/ sets it), not from the late read.
    BATCH_SECONDS = 0.02

    def run(self):
        while self.count < self.target:
            try:
                buf = os.read(self.fd, 1 << 16)
            except OSError:
                return
            now = time.monotonic()
            off = 0
            while off + 16 <= len(buf):
                _wd, mask, _cookie, ln = struct.unpack_from("iIII", buf, off)
                off += 16 + ln
                if mask & IN_Q_OVERFLOW:
                    self.count = len(os.listdir(self.newdir))
                elif mask & (IN_CREATE | IN_MOVED_TO) and not mask & IN_ISDIR:
                    self.count += 1
            self.last_event = now
            if self.count >= self.target:
                self.done_at = now - self._lag()
            else:
                time.sleep(self.BATCH_SECONDS)
        self.done.set()

    def _lag(self):
        """How long ago new/ last changed (0 when that cannot be told)."""
        try:
            lag = time.time() - os.stat(self.newdir).st_mtime_ns / 1e9
        except OSError:
            return 0.0
        return lag if 0.0 <= lag <= 2 * self.BATCH_SECONDS + 0.5 else 0.0

    def close(self):
        os.close(self.fd)


# ---------------------------------------------------------------- messages

def make_message(tag, rcpt):
    head = ("From: bench@example.invalid\nTo: %s\nSubject: bench %s\n"
            "Message-ID: <%s@bench.invalid>\n\n" % (rcpt, tag, tag))
    line = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n"
    body = (line * (MESSAGE_BYTES // len(line) + 1))
    msg = head + body
    return msg[:MESSAGE_BYTES - 1].encode() + b"\n"


INJECTOR = None  # path of the compiled bench/inject.cc


def build_injector(work):
    global INJECTOR
    INJECTOR = os.path.join(work, "inject")
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        die("need a C++ compiler for bench/inject.cc")
    run([cxx, "-std=c++20", "-O2", "-Wall", "-Werror", "-o", INJECTOR,
         os.path.join(REPO, "bench", "inject.cc")])


def message_file(system, work):
    path = os.path.join(work, "message-" + system.name)
    with open(path, "wb") as f:
        f.write(make_message(system.name, system.rcpt))
    return path


def injector_argv(system, count, rcpt=None):
    sm = system.sendmail_argv(rcpt) if rcpt else system.sendmail_argv()
    return [INJECTOR, system.cg.procs_file, str(count), system.msgfile] + sm


# ---------------------------------------------------------------- systems

def empty_dir(d):
    for n in os.listdir(d):
        os.unlink(os.path.join(d, n))


def walk_files(d):
    n = 0
    for _root, _dirs, files in os.walk(d):
        n += len(files)
    return n


def system_user(name):
    """The passwd entry of system user `name`, made (no home, no shell) if
    missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name])
        return pwd.getpwnam(name)


class System:
    name = "?"

    def env(self):
        return dict(os.environ)

    def clear_maildir(self):
        """Empties the Maildir for the next run without freeing an inode:
        new/ and cur/ are moved aside (to a directory beside the Maildir,
        removed with the work directory) and made again. On ext4 without a
        journal (this machine), a create skips every inode freed in the
        last one to six minutes, reading its inode-table block each time:
        deleting the last run's messages here made every delivery of the
        next run, ours and Postfix's alike, pay for the harness's own
        unlinks (about 5,000 inodes after a 2,000-message round pair)."""
        trash = os.path.join(os.path.dirname(self.maildir), ".bench-trash")
        os.makedirs(trash, exist_ok=True)
        self._cleared = getattr(self, "_cleared", 0) + 1
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            if not os.listdir(d):
                continue
            st = os.stat(d)
            os.rename(d, os.path.join(trash, "%s.%d" % (sub, self._cleared)))
            os.mkdir(d, st.st_mode & 0o7777)
            os.chown(d, st.st_uid, st.st_gid)
        empty_dir(os.path.join(self.maildir, "tmp"))  # normally empty

    def queue_busy(self):
        raise NotImplementedError

    def wait_idle(self, timeout=120.0):
        deadline = time.monotonic() + timeout
        while self.queue_busy():
            if time.monotonic() > deadline:
                die("%s: queue not empty after %.0fs" % (self.name, timeout))
            time.sleep(0.02)
        time.sleep(0.2)  # let the last children exit and be charged


class Postfix(System):
    name = "postfix"

    def __init__(self, work):
        self.work = os.path.join(work, "postfix")
        self.conf = os.path.join(self.work, "etc")
        self.spool = os.path.join(self.work, "spool")
        self.logfile = os.path.join(self.work, "maillog")
        self.rcpt = PF_USER
        self.cg = None
        self.strace_proc = None

    def install(self):
        if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
            log("installing postfix from Debian's packages")
            sel = ("postfix postfix/main_mailer_type select No configuration\n"
                   "postfix postfix/mailname string localhost\n")
            run(["debconf-set-selections"], input=sel.encode())
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            r = run(["apt-get", "install", "-y", "-q", "postfix"], env=env,
                    capture_output=True, check=False)
            if r.returncode != 0:
                run(["apt-get", "update", "-q"], env=env, capture_output=True)
                run(["apt-get", "install", "-y", "-q", "postfix"], env=env, capture_output=True)
        self.disable_service()

    @staticmethod
    def disable_service():
        # The package enables its boot-time service; the benchmark only ever
        # runs its own private instance.
        if shutil.which("systemctl"):
            subprocess.run(["systemctl", "disable", "--now", "postfix"],
                           capture_output=True, check=False)
        if shutil.which("update-rc.d"):
            subprocess.run(["update-rc.d", "postfix", "disable"], capture_output=True, check=False)

    def setup(self, smtpd_port=None, smtpd_maxproc="-", params=None):
        """Writes the private instance's configuration. smtpd_port: also run
        smtpd on 127.0.0.1:smtpd_port (the package's port-25 services stay
        off); params: main.cf settings added or overriding the defaults."""
        pw = system_user(PF_USER)
        self.home = os.path.join(self.work, "home")
        run(["usermod", "--home", self.home, PF_USER])
        self.maildir = os.path.join(self.home, "Maildir")
        for d in ("", "new", "cur", "tmp"):
            os.makedirs(os.path.join(self.maildir, d), exist_ok=True)
        for root, dirs, _files in os.walk(self.home):
            for d in [root] + [os.path.join(root, x) for x in dirs]:
                os.chown(d, pw.pw_uid, pw.pw_gid)
                os.chmod(d, 0o700)
        os.makedirs(self.conf, exist_ok=True)
        os.makedirs(self.spool, exist_ok=True)
        os.chmod(self.work, 0o755)
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        if smtpd_port:
            # The package's inet services (smtp on port 25, ...) are dropped;
            # one smtpd listens on the benchmark's port, not chrooted, so it
            # resolves 127.0.0.1 through the system's /etc/hosts.
            kept = [ln for ln in master.splitlines()
                    if ln[:1] in ("#", " ", "\t", "") or
                    len(ln.split()) < 2 or ln.split()[1] != "inet"]
            master = "\n".join(kept) + "\n127.0.0.1:%d inet n - n - %s smtpd\n" % (
                smtpd_port, smtpd_maxproc)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(master)
        data = os.path.join(self.work, "data")
        os.makedirs(data, exist_ok=True)
        os.chown(data, pwd.getpwnam("postfix").pw_uid, -1)
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": data,
            "maillog_file": self.logfile,
            "myhostname": "localhost.localdomain",
            "mydomain": "localdomain",
            "myorigin": "localhost",
            "mydestination": "localhost",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "master_service_disable": "" if smtpd_port else "inet",
            "relayhost": "",
            "home_mailbox": "Maildir/",
            "mailbox_command": "",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "no",
        }
        settings.update(params or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write("".join("%s = %s\n" % kv for kv in settings.items()))
        open(self.logfile, "a").close()

    def env(self):
        return dict(os.environ, MAIL_CONFIG=self.conf)

    def sendmail_argv(self, rcpt=PF_USER):
        return ["/usr/sbin/sendmail", "-C", self.conf, rcpt]

    def postconf(self, settings):
        run(["postconf", "-c", self.conf, "-e"] + ["%s=%s" % kv for kv in settings.items()],
            env=self.env(), capture_output=True)

    def start(self, cg, strace_out=None):
        self.cg = cg
        argv = ["postfix", "-c", self.conf, "start"]
        if strace_out:
            argv = ["strace", "-f", "-c", "-o", strace_out, "-e", "trace=" + SYSCALLS] + argv
            self.strace_proc = subprocess.Popen(argv, env=self.env(), preexec_fn=cg.join_self,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while not self.running():
                if time.monotonic() > deadline:
                    die("postfix did not start under strace")
                time.sleep(0.1)
        else:
            r = subprocess.run(argv, env=self.env(), preexec_fn=cg.join_self,
                               capture_output=True)
            if r.returncode != 0:
                die("postfix start: " + r.stderr.decode(errors="replace"))
        # qmgr and pickup come up on master's start; wait for them.
        deadline = time.monotonic() + 30
        while len(cg.pids()) < 3:
            if time.monotonic() > deadline:
                die("postfix daemons did not start")
            time.sleep(0.05)

    def running(self):
        return subprocess.run(["postfix", "-c", self.conf, "status"], env=self.env(),
                              capture_output=True).returncode == 0

    def stop(self):
        subprocess.run(["postfix", "-c", self.conf, "stop"], env=self.env(),
                       capture_output=True)
        if self.strace_proc:
            self.strace_proc.wait(60)
            self.strace_proc = None

    def queue_busy(self):
        return any(walk_files(os.path.join(self.spool, q))
                   for q in ("maildrop", "incoming", "active", "deferred", "hold"))

    def log_tail(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""


class Ours(System):
    name = "ours"

    def __init__(self, work, build_dir, root_home=False):
        self.build = build_dir
        self.root_home = root_home
        self.dir = os.path.join(work, "qmail")
        self.logfile = os.path.join(work, "qmail-send.log")
        self.rcpt = OURS_USER
        self.cg = None
        self.proc = None
        self.strace_proc = None

    def setup(self):
        """A single-user home (everything runs as the invoking user), or
        with root_home a root-mode home: qmail's own users, a setuid
        qmail-queue that qmail-smtpd (as qmaild) must exec for every
        message, and deliveries as the system user OURS_ROOT_USER."""
        run([os.path.join(self.build, "qmail-setup")] +
            ([] if self.root_home else ["--single-user"]) + [self.dir], capture_output=True)
        os.chmod(os.path.dirname(self.dir), 0o755)
        run([self.bin("config-fast"), "bench.local"], env=self.env(), capture_output=True)
        uhome = os.path.join(self.dir, "mailboxes", OURS_USER)
        os.makedirs(uhome, exist_ok=True)
        self.maildir = os.path.join(uhome, "Maildir")
        run([self.bin("maildirmake"), self.maildir], env=self.env(), capture_output=True)
        pw = pwd.getpwuid(os.getuid())
        if self.root_home:
            pw = system_user(OURS_ROOT_USER)
            for root, dirs, _files in os.walk(uhome):
                for d in [root] + [os.path.join(root, x) for x in dirs]:
                    os.chown(d, pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.dir, "users", "assign"), "w") as f:
            f.write("=%s:%s:%d:%d:%s:::\n.\n" % (OURS_USER, pw.pw_name, pw.pw_uid,
                                                  pw.pw_gid, uhome))
        run([self.bin("qmail-newu")], env=self.env(), capture_output=True)

    def bin(self, prog):
        return os.path.join(self.dir, "bin", prog)

    def ids(self, name):
        """(uid, gid) of one of the home's users from HOME/users/ids."""
        with open(os.path.join(self.dir, "users", "ids")) as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[0] == name:
                    return int(parts[1]), int(parts[2])
        die("no %s in %s/users/ids" % (name, self.dir))

    def env(self):
        return dict(os.environ, QMAILHOME=self.dir)

    def sendmail_argv(self, rcpt=OURS_USER):
        return [self.bin("sendmail"), rcpt]

    def write_control(self, name, text):
        with open(os.path.join(self.dir, "control", name), "w") as f:
            f.write(text)

    def start(self, cg, strace_out=None, strace_all=False):
        """Runs qmail-start in cg; with strace_out, under strace -f -c (only
        the SYSCALLS unless strace_all)."""
        self.cg = cg
        argv = [self.bin("qmail-start"), "./Maildir/"]
        if strace_out:
            argv = ["strace", "-f", "-c", "-o", strace_out] + (
                [] if strace_all else ["-e", "trace=" + SYSCALLS]) + argv
        logf = open(self.logfile, "ab")
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, env=self.env(),
                             cwd="/", start_new_session=True, preexec_fn=cg.join_self)
        logf.close()
        if strace_out:
            self.strace_proc = p
        else:
            self.proc = p
        deadline = time.monotonic() + 30
        while "status:" not in self.log_tail():
            if p.poll() is not None or time.monotonic() > deadline:
                die("qmail-start did not start: " + self.log_tail())
            time.sleep(0.05)

    def stop(self):
        if self.strace_proc:
            # SIGTERM to qmail-send only (strace's child); its helpers exit on
            # EOF, and strace prints its table once all have exited.
            kids = []
            try:
                with open("/proc/%d/task/%d/children" % (self.strace_proc.pid,
                                                         self.strace_proc.pid)) as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                pass
            for k in kids:
                try:
                    os.kill(k, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            if not kids:
                for pid in self.cg.pids():
                    try:
                        with open("/proc/%d/comm" % pid) as f:
                            if f.read().strip() == "qmail-send":
                                os.kill(pid, signal.SIGTERM)
                    except OSError:
                        pass
            try:
                self.strace_proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.strace_proc.pid, signal.SIGKILL)
                self.strace_proc.wait()
            self.strace_proc = None
            return
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def queue_busy(self):
        q = os.path.join(self.dir, "queue")
        return any(walk_files(os.path.join(q, d)) for d in ("mess", "intd", "todo", "pid"))

    def log_tail(self):
        try:
            with open(self.logfile, "rb") as f:
                return "".join(f.read().decode(errors="replace").splitlines(True)[-20:])
        except OSError:
            return ""




# ---------------------------------------------------------------- strace

def parse_strace_c(path):
    counts = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(parts) >= 5 and parts[-1] not in ("total", "syscall") and \
                    parts[0][0].isdigit():
                calls = int(parts[3])
                counts[parts[-1]] = counts.get(parts[-1], 0) + calls
    return counts



def median(xs):
    return statistics.median(xs) if xs else float("nan")


def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        info["mem_gb"] = round(os.sysconf("SC_PHYS_PAGES") * PAGE / (1 << 30), 1)
        r = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "-T", "/var/tmp"],
                           capture_output=True, text=True)
        info["filesystem"] = r.stdout.strip()
        info["kernel"] = os.uname().release
    except OSError:
        pass
    return info



def build_release():
    """Builds our programs (not the unit tests) with the release preset."""
    log("building the release preset")
    run(["cmake", "--preset", "release"], cwd=REPO, stdout=subprocess.DEVNULL)
    progs = sorted(n[:-3] for n in os.listdir(os.path.join(REPO, "src", "bin"))
                   if n.endswith(".cc"))
    r = run(["cmake", "--build", "build/release", "-j2", "--target"] + progs,
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if r.returncode != 0:
        die("release build failed:\n" + r.stdout.decode(errors="replace")[-3000:])


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                die("%s does not accept connections on 127.0.0.1:%d" % (what, port))
            time.sleep(0.05)


_LOCK = None


def exclusive():
    """Waits until no other benchmark of bench/ runs: they share the system
    user benchpf, whose home each run points at its own work directory."""
    global _LOCK
    _LOCK = open("/var/tmp/qmail-bench.lock", "a")
    try:
        fcntl.flock(_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log("%s: waiting for another benchmark to finish" % PROG)
        fcntl.flock(_LOCK, fcntl.LOCK_EX)


# ext4 without a journal (this machine) skips, at every file creation, each
# inode freed in the last minute (six while its inode-table block is still
# dirty), reading that block each time: removing a run's work directory
# (thousands of files) slowed every create of a run started right after it
# by hundreds of microseconds, for both systems (seen: 550 against 1,000
# msg/s for the same build). So a run syncs after its cleanup and notes
# the time, and the next one waits out the minute.
_CLEANED_STAMP = "/var/tmp/qmail-bench.cleaned"
QUIET_FS_SECONDS = 65


def remove_work(work):
    shutil.rmtree(work, ignore_errors=True)
    os.sync()
    with open(_CLEANED_STAMP, "w") as f:
        f.write("%f\n" % time.time())


def wait_quiet_fs(skip=False):
    try:
        with open(_CLEANED_STAMP) as f:
            left = float(f.read().strip()) + QUIET_FS_SECONDS - time.time()
    except (OSError, ValueError):
        return
    if left > 0 and not skip:
        log("%s: waiting %.0f s for the last run's freed inodes to age (ext4 without a "
            "journal skips recently freed ones at every create; --no-wait to skip)" % (PROG, left))
        time.sleep(left)
