"""Shared machinery of the reliability tests (test_torture.py,
test_powercut.py, scripts/torture-long): deterministic messages, injector
threads that record what was acknowledged, a killer that SIGKILLs parts of
the running system, restarts, queue draining and the final accounting of
mailboxes (lost, duplicated, corrupt).

Every message n has "torture-<n>" in its Subject and a body that is a pure
function of (seed, n), so a delivered file can be checked byte for byte.
"""
import fcntl
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qmailtest  # noqa: E402
from qmailtest import BUILD, Home, wait_for  # noqa: E402

# Programs the whole-system tests need from the build directory.
SYSTEM_PROGRAMS = ["qmail-setup", "config-fast", "qmail-newu", "maildirmake", "qmail-queue",
                   "qmail-send", "qmail-start", "qmail-lspawn", "qmail-clean", "qmail-local"]

# Subdirectories of the queue that must be empty once everything is done.
QUEUE_DIRS = ["mess", "todo", "intd", "info", "local", "remote", "bounce", "pid"]
# Those that only hold committed messages (anything here is a stuck message).
COMMITTED_DIRS = ["todo", "info", "local", "remote", "bounce"]
# Those that also hold the debris of a qmail-queue killed before it
# committed (qmail cleans these up after 36 hours).
DEBRIS_DIRS = ["pid", "intd", "mess"]


def log(*a):
    print(*a, flush=True)
    sys.stdout.flush()


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


def env_float(name, default):
    v = os.environ.get(name)
    return float(v) if v not in (None, "") else default


def choose_seed():
    s = os.environ.get("TORTURE_SEED")
    return int(s) if s not in (None, "") else random.SystemRandom().randrange(1, 2**31)


def missing_programs():
    missing = [p for p in SYSTEM_PROGRAMS if not os.access(os.path.join(BUILD, p), os.X_OK)]
    if not inject_program_name(BUILD):
        missing.append("qmail-inject or sendmail")
    return missing


def inject_program_name(bindir):
    for p in ("qmail-inject", "sendmail"):
        if os.access(os.path.join(bindir, p), os.X_OK):
            return p
    return None


# ---------------------------------------------------------------- messages

_ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789  "


def make_body(seed, n, max_big=2000):
    """The exact body of message n (bytes, ends in a newline)."""
    rnd = random.Random("%d-%d" % (seed, n))
    r = rnd.random()
    if r < 0.80:
        nlines = rnd.randint(0, 20)
    elif r < 0.97:
        nlines = rnd.randint(20, 300)
    else:
        nlines = rnd.randint(300, max_big)
    lines = ["torture-%d begins" % n]
    for _ in range(nlines):
        k = rnd.randint(1, 78)
        lines.append("x" + "".join(rnd.choice(_ALPHA) for _ in range(k - 1)).rstrip())
    lines.append("torture-%d ends" % n)
    return ("\n".join(lines) + "\n").encode()


def make_message(seed, n, rcpts, hostname=qmailtest.HOSTNAME, max_big=2000):
    head = ("From: torture@%s\nTo: %s\nSubject: torture-%d\n"
            "Message-ID: <torture-%d.%d@%s>\n\n") % (
        hostname, ", ".join(rcpts), n, n, seed, hostname)
    return head.encode() + make_body(seed, n, max_big)


_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")
_SUBJECT = re.compile(rb"^subject:\s*torture-(\d+)\s*$", re.I)


def parse_delivered(data, seed, max_big=2000):
    """Checks one delivered file. Returns (n, None) when it is a complete
    torture message n, (n or None, reason) when it is corrupt."""
    cut = data.find(b"\n\n")
    if cut < 0:
        return None, "no end of header"
    n = None
    for line in data[:cut].split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        if not _HEADER_LINE.match(line):
            return n, "bad header line %r" % line[:80]
        m = _SUBJECT.match(line)
        if m:
            n = int(m.group(1))
    if n is None:
        return None, "no torture Subject"
    if data[cut + 2:] != make_body(seed, n, max_big):
        return n, "body differs (%d bytes, expected %d)" % (
            len(data) - cut - 2, len(make_body(seed, n, max_big)))
    return n, None


# ---------------------------------------------------------------- users

class Mailboxes:
    """The users of a torture home and where each address's mail ends up.

    alice, bob, carol: plain Maildirs. With variety: dave's .qmail forwards
    to carol and keeps a copy in his Maildir; erin's .qmail is a program
    that stores the message atomically in ~erin/progbox."""

    def __init__(self, home, variety=True):
        self.home = home
        self.variety = variety
        self.homes = {}
        names = ["alice", "bob", "carol"] + (["dave", "erin"] if variety else [])
        for name in names:
            self.homes[name] = home.add_user(name)
        self.progbox = None
        if variety:
            with open(os.path.join(self.homes["dave"], ".qmail"), "w") as f:
                f.write("&carol@%s\n./Maildir/\n" % qmailtest.HOSTNAME)
            self.progbox = os.path.join(self.homes["erin"], "progbox")
            os.makedirs(os.path.join(self.progbox, "tmp"))
            os.makedirs(os.path.join(self.progbox, "new"))
            with open(os.path.join(self.homes["erin"], ".qmail"), "w") as f:
                # Atomic: write under tmp/, then rename into new/.
                f.write('|t=progbox/tmp/$$.$(date +%s%N); cat >"$t" && '
                        'mv "$t" progbox/new/ || exit 111\n')
            if os.geteuid() == 0:
                ids = home.user_ids()
                for root, dirs, files in os.walk(self.homes["erin"]):
                    for x in [root] + [os.path.join(root, d) for d in dirs + files]:
                        os.chown(x, ids[1], ids[2])
                os.chown(os.path.join(self.homes["dave"], ".qmail"), ids[1], ids[2])

    def address(self, name):
        return "%s@%s" % (name, qmailtest.HOSTNAME)

    def plan(self, rnd):
        """Random recipient names for one message."""
        r = rnd.random()
        if self.variety and r < 0.06:
            return ["dave"]
        if self.variety and r < 0.10:
            return ["erin"]
        if r < 0.20:
            return rnd.sample(["alice", "bob", "carol"], 2)
        return [rnd.choice(["alice", "bob", "carol"])]

    def boxes_for(self, names):
        """Mailbox keys a message to `names` must reach."""
        out = set()
        for nm in names:
            if nm == "dave":
                out |= {"dave", "carol"}
            elif nm == "erin":
                out.add("erin:prog")
            else:
                out.add(nm)
        return out

    def box_dirs(self):
        """{box key: [directories whose files are deliveries]}."""
        d = {}
        for name, h in self.homes.items():
            if name == "erin":
                continue
            d[name] = [os.path.join(h, "Maildir", "new"), os.path.join(h, "Maildir", "cur")]
        if self.progbox:
            d["erin:prog"] = [os.path.join(self.progbox, "new")]
            d["erin"] = [os.path.join(self.homes["erin"], "Maildir", "new"),
                         os.path.join(self.homes["erin"], "Maildir", "cur")]
        return d

    def tmp_dirs(self):
        out = [os.path.join(h, "Maildir", "tmp") for h in self.homes.values()]
        if self.progbox:
            out.append(os.path.join(self.progbox, "tmp"))
        return out


class Census:
    """What the mailboxes hold: counts per (n, box) and corrupt files."""

    def __init__(self, boxes, seed, max_big=2000):
        self.count = {}
        self.corrupt = []
        self.files = 0
        for box, dirs in boxes.box_dirs().items():
            for d in dirs:
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    p = os.path.join(d, name)
                    try:
                        with open(p, "rb") as f:
                            data = f.read()
                    except OSError as e:
                        self.corrupt.append((p, "unreadable: %s" % e))
                        continue
                    self.files += 1
                    n, err = parse_delivered(data, seed, max_big)
                    if err:
                        self.corrupt.append((p, err))
                    else:
                        self.count[(n, box)] = self.count.get((n, box), 0) + 1
        self.tmp_leftovers = sum(len(os.listdir(d)) for d in boxes.tmp_dirs() if os.path.isdir(d))

    def account(self, boxes, acked, attempted=None):
        """Returns dict: lost [(n, box)], duplicates (extra copies of
        acknowledged messages), unacked_delivered, unknown."""
        lost = []
        dups = 0
        dup_list = []
        for n, names in acked.items():
            for box in sorted(boxes.boxes_for(names)):
                c = self.count.get((n, box), 0)
                if c == 0:
                    lost.append((n, box))
                elif c > 1:
                    dups += c - 1
                    dup_list.append((n, box, c))
        unacked = set(n for (n, _) in self.count if n not in acked)
        unknown = [n for n in unacked if attempted is not None and n not in attempted]
        return {"lost": lost, "duplicates": dups, "duplicate_list": dup_list,
                "unacked_delivered": len(unacked), "unknown": unknown}


# ---------------------------------------------------------------- processes

def _readlink(p):
    try:
        return os.readlink(p)
    except OSError:
        return None


def home_pids(home_dir, progs=None):
    """{pid: program} of processes running HOME/bin/<prog> of this home
    (by /proc/PID/exe, or by argv[0] when exe is unreadable)."""
    bindir = os.path.join(home_dir, "bin") + "/"
    out = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        pid = int(e)
        exe = _readlink("/proc/%d/exe" % pid)
        path = None
        if exe:
            exe = exe[:-len(" (deleted)")] if exe.endswith(" (deleted)") else exe
            if exe.startswith(bindir):
                path = exe
        if path is None:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if argv0.startswith(bindir):
                path = argv0
        if path is None:
            continue
        prog = path[len(bindir):]
        # A sibling's code run in a forked child without exec (qmail-local
        # in qmail-lspawn's child, qmail-smtpd in qmail-tcpsrv's, qmail-queue
        # in its caller's child) keeps its parent's exe but names itself.
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            comm = ""
        if comm and comm != prog and os.path.exists(bindir + comm):
            prog = comm
        if progs is None or prog in progs:
            out[pid] = prog
    return out


def process_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()[0]


def group_pids(pgid):
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(e))
    return out


def pids_using(path):
    """Pids whose cwd, root or exe lies under `path` (to empty a mount)."""
    path = path.rstrip("/") + "/"
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == os.getpid():
            continue
        for link in ("cwd", "exe", "root"):
            t = _readlink("/proc/%s/%s" % (e, link))
            if t and (t + "/").startswith(path):
                out.append(int(e))
                break
        else:
            try:
                for fd in os.listdir("/proc/%s/fd" % e):
                    t = _readlink("/proc/%s/fd/%s" % (e, fd))
                    if t and t.startswith(path):
                        out.append(int(e))
                        break
            except OSError:
                pass
    return out


class System:
    """Starts, watches and restarts the qmail-start process group of a
    home. All restarts go through here (one lock)."""

    def __init__(self, home):
        self.home = home
        self.lock = threading.RLock()
        self.restarts = 0
        self.observations = []  # odd behaviour worth reporting
        self.archive = os.path.join(home.tmp, "send.log.all")

    def note(self, text):
        log("observation: " + text)
        self.observations.append(text)

    def _rotate_log(self):
        # Home.start() waits for "status:" in the log: start each run on an
        # empty log, keeping the old text in send.log.all.
        lf = self.home.logfile
        if os.path.exists(lf):
            with open(lf, "rb") as f, open(self.archive, "ab") as a:
                a.write(f.read())
            os.unlink(lf)

    def start(self):
        with self.lock:
            self._rotate_log()
            self.home.start()

    def alive(self):
        p = self.home.send
        if p is None or p.poll() is not None:
            return False
        return bool(home_pids(self.home.dir, ["qmail-send"]))

    def send_pids(self):
        return list(home_pids(self.home.dir, ["qmail-send"]))

    def kill_group(self, grace=5.0):
        """Ends what is left of the current qmail-start group: waits `grace`
        seconds for it to go by itself, then SIGTERM, then SIGKILL."""
        p = self.home.send
        if p is None:
            return
        pgid = p.pid
        deadline = time.time() + grace
        while group_pids(pgid) and time.time() < deadline:
            time.sleep(0.02)
        left = group_pids(pgid)
        if left:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.time() + 10
            while group_pids(pgid) and time.time() < deadline:
                time.sleep(0.02)
        left = group_pids(pgid)
        if left:
            progs = [home_pids(self.home.dir).get(x, str(x)) for x in left]
            self.note("still running 10s after SIGTERM, SIGKILLed: %s" % ", ".join(progs))
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            self.note("qmail-start did not exit after SIGKILL of its group")
        wait_for(lambda: not group_pids(pgid), 20, "group %d to go" % pgid)
        self.home.send = None

    def restart(self, grace=5.0):
        with self.lock:
            self.kill_group(grace)
            self.restarts += 1
            self.start()

    def stop(self):
        with self.lock:
            self.home.stop()
            # Home.stop() only signals while qmail-start lives.
            if self.home.send is not None:
                self.kill_group(0)

    def alarm(self):
        """SIGALRM to qmail-send: retry everything now."""
        for pid in self.send_pids():
            try:
                os.kill(pid, signal.SIGALRM)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------- injection

class Injection:
    """`threads` threads inject messages 0..total-1 (the next free number
    each) and record what was acknowledged (exit 0)."""

    def __init__(self, home, boxes, seed, total, threads=4, env=None, on_ack=None,
                 max_big=2000):
        self.home = home
        self.boxes = boxes
        self.seed = seed
        self.total = total
        self.nthreads = threads
        self.env = env or home.env()
        self.on_ack = on_ack
        self.max_big = max_big
        self.prog = home.bin(inject_program_name(home.path("bin")))
        self.lock = threading.Lock()
        self.next = 0
        self.done = 0
        self.acked = {}      # n -> recipient names
        self.attempted = {}  # n -> recipient names
        self.failed = {}     # n -> (exit code, stderr tail)
        self.stop_flag = threading.Event()
        # Set just before a power cut. An exit 0 seen after it is not
        # counted as acknowledged: the program may have finished after the
        # cut (on XFS, fsync of a directory returns 0 after a shutdown
        # without having written anything), which a real power cut rules
        # out.
        self.cut_started = threading.Event()
        self.acked_late = {}  # n -> recipient names
        self.threads = []

    def _take(self):
        with self.lock:
            if self.next >= self.total or self.stop_flag.is_set():
                return None
            n = self.next
            self.next += 1
            return n

    def _run(self):
        while True:
            n = self._take()
            if n is None:
                return
            rnd = random.Random("plan-%d-%d" % (self.seed, n))
            names = self.boxes.plan(rnd)
            addrs = [self.boxes.address(x) for x in names]
            msg = make_message(self.seed, n, addrs, max_big=self.max_big)
            with self.lock:
                self.attempted[n] = names
            try:
                p = subprocess.run([self.prog] + addrs, input=msg, env=self.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   timeout=300)
                rc, err = p.returncode, p.stderr
            except subprocess.TimeoutExpired:
                rc, err = "timeout", b""
            except OSError as e:  # e.g. EIO: the program is on a cut filesystem
                rc, err = "exec", str(e).encode()
            if rc == 0 and self.cut_started.is_set():
                with self.lock:
                    self.acked_late[n] = names
                    self.done += 1
            elif rc == 0:
                if self.on_ack:
                    self.on_ack(n)
                with self.lock:
                    self.acked[n] = names
                    self.done += 1
            else:
                with self.lock:
                    self.failed[n] = (rc, err[-200:])
                    self.done += 1

    def start(self):
        for _ in range(self.nthreads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.threads.append(t)

    def join(self, timeout=None):
        for t in self.threads:
            t.join(timeout)

    def progress(self):
        with self.lock:
            return self.done

    def shrink(self, total):
        """Injects only `total` messages (at least those already taken)."""
        with self.lock:
            self.total = max(self.next, min(self.total, total))
            return self.total


class Killer(threading.Thread):
    """SIGKILLs parts of the system at random moments while `inj` runs:
    kill i happens once inj.progress() passes the i-th of `kills` random
    points; the victim's program is drawn from `weights`. Restarts the
    system when qmail-send is gone."""

    # qmail-inject: in a single-user home it queues the message in its own
    # process (queue/inject.h), so killing it is killing qmail-queue.
    WEIGHTS = {"qmail-send": 2, "qmail-lspawn": 1, "qmail-clean": 1,
               "qmail-local": 3, "qmail-queue": 3, "qmail-inject": 3}
    # Killing one of these should take the whole system down (qmail-send
    # dies when it loses a child: "oh no! lost ... connection! dying").
    FATAL = ("qmail-send", "qmail-lspawn", "qmail-clean")

    def __init__(self, system, inj, kills, rnd, weights=None):
        super().__init__(daemon=True)
        self.system = system
        self.inj = inj
        self.kills = kills
        self.rnd = rnd
        self.weights = weights or self.WEIGHTS
        # Kill i comes when this fraction of inj.total is done (inj.total
        # may shrink to fit a time budget; the kills still all happen).
        self.points = sorted(rnd.uniform(0.02, 0.95) for _ in range(kills))
        self.done = []       # (program, progress)
        self.misses = 0      # a chosen program never showed up
        self.error = None

    def _find(self, prog, patience):
        deadline = time.time() + patience
        while True:
            pids = home_pids(self.system.home.dir, [prog])
            if pids:
                return sorted(pids)
            if time.time() >= deadline:
                return []
            time.sleep(0.001)

    def run(self):
        try:
            self._run()
        except BaseException as e:  # reported by the test
            self.error = e
            raise

    def _run(self):
        progs = list(self.weights)
        w = [self.weights[p] for p in progs]
        for frac in self.points:
            while self.inj.progress() < frac * self.inj.total and not self.inj.stop_flag.is_set():
                time.sleep(0.005)
                self._heal()
            if self.inj.stop_flag.is_set():
                return
            # A short-lived program may not be running just now: wait a
            # little for it, then draw another one.
            for _ in range(4):
                prog = self.rnd.choices(progs, w)[0]
                pids = self._find(prog, 1.0)
                if pids:
                    break
                self.misses += 1
            if not pids:
                continue
            time.sleep(self.rnd.random() * 0.003)
            pid = self.rnd.choice(pids)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                self.misses += 1
                continue
            self.done.append((prog, self.inj.progress()))
            if prog in self.FATAL:
                self._after_fatal(prog)
        # keep the system alive until injection ends
        while not self.inj.stop_flag.is_set() and any(t.is_alive() for t in self.inj.threads):
            time.sleep(0.02)
            self._heal()

    def _after_fatal(self, prog):
        s = self.system
        if prog != "qmail-send":
            ok = True
            try:
                wait_for(lambda: not s.send_pids(), 10, "qmail-send to die")
            except AssertionError:
                ok = False
            if not ok:
                s.note("qmail-send still running 10s after %s was killed" % prog)
        s.restart()

    def _heal(self):
        s = self.system
        if not s.alive():
            # give a dying qmail-send a moment, then restart
            time.sleep(0.05)
            if not s.alive():
                s.note("system found dead without a fatal kill; restarting")
                s.restart()


# ---------------------------------------------------------------- queue

def queue_files(home, subs):
    out = []
    for sub in subs:
        for root, _, files in os.walk(home.path("queue", sub)):
            out += [os.path.join(root, f) for f in files]
    return out


def qstat(home):
    """qmail-qstat's output, or None when there is no such program."""
    if not os.access(home.bin("qmail-qstat"), os.X_OK):
        return None
    p = home.run("qmail-qstat")
    return p.stdout.decode(errors="replace")


def drain(system, timeout, what="queue to drain"):
    """Waits until no committed message is left (todo, info, local, remote,
    bounce empty), nudging qmail-send with SIGALRM every second."""
    home = system.home
    deadline = time.time() + timeout
    last = 0
    while True:
        left = queue_files(home, COMMITTED_DIRS)
        if not left:
            return
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s; left: %s" % (what, left[:20]))
        if time.time() - last > 1:
            system.alarm()
            last = time.time()
        time.sleep(0.05)


def age_debris(home, seconds=40 * 3600):
    """Makes the debris of killed qmail-queue runs look old (qmail removes
    it after 36 hours). Returns the list of files aged."""
    old = time.time() - seconds
    files = queue_files(home, DEBRIS_DIRS)
    for p in files:
        try:
            os.utime(p, (old, old))
        except FileNotFoundError:
            pass
    return files


# ---------------------------------------------------------------- power cut

FS_IOC_SHUTDOWN = 0x8004587D  # _IOR('X', 125, __u32), = XFS_IOC_GOINGDOWN
SHUTDOWN_NOLOGFLUSH = 2


def shutdown_fs(mountpoint):
    """Cuts the power to the filesystem: nothing not yet on the device
    (including the log) gets there; every later write fails."""
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, FS_IOC_SHUTDOWN, struct.pack("I", SHUTDOWN_NOLOGFLUSH))
    finally:
        os.close(fd)


def have_tool(name):
    return shutil.which(name) is not None


class Image:
    """A filesystem image file loop-mounted on a temporary directory."""

    def __init__(self, fstype, tmp, size_mb=None):
        self.fstype = fstype
        self.tmp = tmp
        self.img = os.path.join(tmp, "fs.img")
        self.mnt = os.path.join(tmp, "mnt")
        os.makedirs(self.mnt, exist_ok=True)
        size_mb = size_mb or (256 if fstype == "ext4" else 512)
        with open(self.img, "wb") as f:
            f.truncate(size_mb << 20)
        if fstype == "ext4":
            cmd = ["mkfs.ext4", "-q", "-F", self.img]
        else:
            cmd = ["mkfs.xfs", "-q", "-f", self.img]
        subprocess.run(cmd, check=True, capture_output=True)
        self.mounted = False

    def mount(self):
        subprocess.run(["mount", "-o", "loop", "-t", self.fstype, self.img, self.mnt],
                       check=True, capture_output=True)
        self.mounted = True

    def cut(self):
        shutdown_fs(self.mnt)

    def umount(self, timeout=30):
        if not self.mounted:
            return
        deadline = time.time() + timeout
        while True:
            for pid in pids_using(self.mnt):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p = subprocess.run(["umount", self.mnt], capture_output=True)
            if p.returncode == 0:
                break
            if time.time() > deadline:
                raise AssertionError("cannot unmount %s: %s" % (self.mnt, p.stderr))
            time.sleep(0.1)
        self.mounted = False
        # Gone from here is not gone everywhere: a process that made a
        # mount namespace meanwhile (unshare -m, as the splogger tests do)
        # holds a copy of the mount, and with it the shut-down filesystem
        # and its loop device. Mounting the image again then reuses that
        # loop device and gets the old, shut-down superblock: every read
        # fails with EIO. So wait until the loop device lets go.
        while subprocess.run(["losetup", "-j", self.img], capture_output=True).stdout.strip():
            if time.time() > deadline:
                raise AssertionError("%s stays attached to a loop device (a mount in another "
                                     "namespace?)" % self.img)
            time.sleep(0.1)

    def fsck(self):
        """Read-only check after recovery; returns (ok, output)."""
        if self.fstype == "ext4":
            p = subprocess.run(["e2fsck", "-fn", self.img], capture_output=True)
        elif have_tool("xfs_repair"):
            p = subprocess.run(["xfs_repair", "-n", self.img], capture_output=True)
        else:
            return True, ""
        return p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")

    def destroy(self):
        try:
            self.umount()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class DirHome(Home):
    """A qmailtest.Home made by qmail-setup in a given directory (e.g. on a
    mounted image), with its log in `tmp` (off the image) and extra
    environment for every program (e.g. QMAIL_TEST_UNSAFE_NO_DIRSYNC)."""

    def __init__(self, home_dir, tmp, extra_env=None, single_user=True,
                 hostname=qmailtest.HOSTNAME):
        self.tmp = tmp
        self.dir = home_dir
        self.keep = True  # the caller owns tmp
        self.send = None
        self.logfile = os.path.join(tmp, "send.log")
        self.extra_env = dict(extra_env or {})
        args = [os.path.join(BUILD, "qmail-setup")]
        if single_user:
            args.append("--single-user")
        args.append(self.dir)
        subprocess.run(args, check=True, capture_output=True, env=self.env())
        self.run_ok("config-fast", [hostname])

    def env(self, **extra):
        e = dict(self.extra_env)
        e.update(extra)
        return Home.env(self, **e)


def new_home(tmp=None, extra_env=None):
    """A fresh single-user home in a temporary directory (DirHome)."""
    tmp = tmp or tempfile.mkdtemp(prefix="qmail-torture-")
    os.chmod(tmp, 0o755)
    return DirHome(os.path.join(tmp, "home"), tmp, extra_env)
