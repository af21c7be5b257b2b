"""Helpers for the interoperability tests (test_peers_in.py,
test_peers_out.py): real peers from Debian's packages (swaks, curl,
openssl s_client, ucspi-tcp's tcpserver, Postfix's smtp-source/smtp-sink)
talking to our programs on 127.0.0.x only."""
import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile

from qmailtest import wait_for, is_root
import test_smtpd_tls
from test_listener import Server, have_ipv6  # noqa: F401 (peers use it)

TIMEOUT = 60  # seconds for any one client run; the machine is shared and loaded


def tool(name):
    """Full path of a program from PATH or /usr/sbin (smtp-source and
    smtp-sink live there), or None."""
    p = shutil.which(name)
    if p:
        return p
    for d in ("/usr/sbin", "/sbin", "/usr/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def have(*names):
    return all(tool(n) for n in names)


def missing(*names):
    return "not installed: " + " ".join(n for n in names if not tool(n))


_certs = None


def certs():
    """A directory with ca.pem, server.crt/.key and servercert.pem (both in
    one file) for example.test and 127.0.0.1, made once per process."""
    global _certs
    if _certs is None:
        _certs = test_smtpd_tls.make_certs()
        atexit.register(shutil.rmtree, _certs, True)
    return _certs


def install_servercert(home):
    dst = home.path("control", "servercert.pem")
    shutil.copy(os.path.join(certs(), "servercert.pem"), dst)
    os.chmod(dst, 0o600)


def free_port(ip="127.0.0.1"):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(ip, port):
    try:
        socket.create_connection((ip, port), 2).close()
        return True
    except OSError:
        return False


def run(args, input=b"", timeout=TIMEOUT, env=None):
    """Runs a client; returns (exit code, stdout+stderr as text)."""
    p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class Tcpsrv(Server):
    """qmail-tcpsrv on 127.0.0.1 port 0 running the home's qmail-smtpd,
    with `env` added to the home's environment (e.g. SMTPS="1")."""

    def __init__(self, home, opts=("-v",), host="127.0.0.1", **env):
        super().__init__(home.tmp, list(opts), host=host, service=[home.bin("qmail-smtpd")],
                         env=home.env(**env))


class Ucspi:
    """ucspi-tcp's own tcpserver (Debian package ucspi-tcp) running the
    home's qmail-smtpd, the way qmail admins run it:
    tcpserver -1 -H -R -l NAME -x rules.cdb 127.0.0.1 0 qmail-smtpd.
    `rules` is tcprules(1) input compiled by the real tcprules."""

    def __init__(self, home, rules, localname="mx.peers.test", compiler=None):
        """`compiler`: the rules compiler (default: ucspi-tcp's tcprules)."""
        self.tmp = tempfile.mkdtemp(prefix="ucspi-", dir=home.tmp)
        self.cdb = os.path.join(self.tmp, "rules.cdb")
        p = subprocess.run([compiler or tool("tcprules"), self.cdb, self.cdb + ".tmp"],
                           input=rules.encode(),
                           capture_output=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise AssertionError("tcprules: " + p.stderr.decode(errors="replace"))
        self.errpath = os.path.join(self.tmp, "stderr")
        self.err = open(self.errpath, "wb")
        # -1 prints the port it bound; -H no reverse DNS; -R no ident.
        self.p = subprocess.Popen([tool("tcpserver"), "-1", "-v", "-H", "-R", "-l", localname,
                                   "-x", self.cdb, "127.0.0.1", "0", home.bin("qmail-smtpd")],
                                  stdout=subprocess.PIPE, stderr=self.err, env=home.env(),
                                  start_new_session=True)
        line = self.p.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise AssertionError("tcpserver did not start: %r %s" % (line, self.log()))
        self.port = int(line)

    def log(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.p.stdout.close()
        self.err.close()


class SmtpSink:
    """Postfix's smtp-sink on ip:port (a free port), dumping each mail
    transaction into its own file under `dir` (-d DIR/%M.); as root it runs
    as nobody (-u) and `dir` is given to nobody."""

    def __init__(self, workdir, ip="127.0.0.1", extra=()):
        self.dir = tempfile.mkdtemp(prefix="sink-", dir=workdir)
        os.chmod(self.dir, 0o755)
        args = [tool("smtp-sink")]
        if is_root():
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            args += ["-u", "nobody"]
        self.ip = ip
        self.port = free_port(ip)
        args += ["-d", os.path.join(self.dir, "%M."), *extra, "%s:%d" % (ip, self.port), "100"]
        self.logpath = os.path.join(workdir, "smtp-sink-%d.log" % self.port)
        self.logf = open(self.logpath, "wb")
        self.p = subprocess.Popen(args, stdout=self.logf, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        wait_for(lambda: self.p.poll() is not None or listening(ip, self.port), 30,
                 "smtp-sink to listen")
        if self.p.poll() is not None:
            raise AssertionError("smtp-sink exited: " + self.log())

    def log(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def files(self):
        out = []
        for root, _, names in os.walk(self.dir):
            out += [os.path.join(root, n) for n in names]
        return sorted(out)

    def messages(self):
        """Each dumped transaction's bytes."""
        out = []
        for n in self.files():
            with open(n, "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.logf.close()


def split_message(msg):
    """(header lines added on the way in: Return-Path, Delivered-To and
    Received fields, as one bytes), the rest (the message as sent)."""
    lines = msg.split(b"\n")
    i = 0
    while i < len(lines):
        l = lines[i]
        if re.match(rb"^(Return-Path|Delivered-To|Received):", l):
            i += 1
            while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
                i += 1
            continue
        break
    return b"\n".join(lines[:i]) + b"\n", b"\n".join(lines[i:])


MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
tlsproxy  unix  -       -       n       -       0       tlsproxy
"""


class Postfix:
    """A private Postfix instance (root only): its own config directory,
    queue and log under a temporary directory in /var/tmp, /etc/postfix
    untouched, no chroot, smtpd only on 127.0.0.1:port. Mail for `vdomain`
    goes to the maildir `vmail/box/` (virtual(8), as nobody); mail for
    each domain in `routes` (domain -> "[ip]:port") is relayed there over
    SMTP with opportunistic STARTTLS. Its smtpd offers STARTTLS with `cert`,
    `key`, and relays for 127.0.0.0/8."""

    def __init__(self, cert, key, vdomain="pf.test", routes=None, myhostname="pf.peers.test",
                 extra=""):
        self.work = tempfile.mkdtemp(prefix="qmail-peers-postfix-", dir="/var/tmp")
        os.chmod(self.work, 0o755)
        self.conf = os.path.join(self.work, "etc")
        self.spool = os.path.join(self.work, "spool")
        self.data = os.path.join(self.work, "data")
        self.vmail = os.path.join(self.work, "vmail")
        self.logfile = os.path.join(self.work, "maillog")
        for d in (self.conf, self.spool, self.data, self.vmail):
            os.makedirs(d)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.data, pwd.getpwnam("postfix").pw_uid, -1)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        self.port = free_port()
        transport = ", ".join("{%s=smtp:%s}" % kv for kv in (routes or {}).items())
        main = """\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
maillog_file = {log}
myhostname = {myhostname}
mydomain = peers.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
transport_maps = inline:{{ {transport} }}
virtual_mailbox_domains = {vdomain}
virtual_mailbox_base = {vmail}
virtual_mailbox_maps = static:box/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
alias_maps =
alias_database =
biff = no
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_dns_support_level = disabled
smtp_host_lookup = native
maximal_queue_lifetime = 1h
bounce_queue_lifetime = 1h
# the SMTP dialogues with 127.0.0.1 in the log (tests check MAIL parameters)
debug_peer_list = 127.0.0.1
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
""".format(spool=self.spool, data=self.data, log=self.logfile, myhostname=myhostname,
           transport=transport, vdomain=vdomain, vmail=self.vmail, uid=nobody.pw_uid,
           gid=nobody.pw_gid, cert=cert, key=key)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main + extra)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen="127.0.0.1:%d" % self.port))
        open(self.logfile, "a").close()
        self.started = False
        p = subprocess.run([tool("postfix"), "-c", self.conf, "start"], env=self.env(),
                           capture_output=True, timeout=120)
        if p.returncode != 0:
            self.stop()
            raise AssertionError("postfix start: %s %s" % (p.stdout, p.stderr))
        self.started = True
        wait_for(lambda: listening("127.0.0.1", self.port), 60, "Postfix smtpd to listen")

    def env(self):
        e = dict(os.environ)
        e["MAIL_CONFIG"] = self.conf
        return e

    def log(self):
        with open(self.logfile, "rb") as f:
            return f.read().decode(errors="replace")

    def maildir(self):
        """The messages delivered to vmail/box/new, as bytes."""
        d = os.path.join(self.vmail, "box", "new")
        out = []
        if os.path.isdir(d):
            for n in sorted(os.listdir(d)):
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
        return out

    def stop(self):
        if self.started:
            subprocess.run([tool("postfix"), "-c", self.conf, "stop"], env=self.env(),
                           capture_output=True, timeout=120)
            pidfile = os.path.join(self.spool, "pid", "master.pid")
            wait_for(lambda: not os.path.exists(pidfile) or not _alive(pidfile), 60,
                     "Postfix master to exit")
            self.started = False
        shutil.rmtree(self.work, ignore_errors=True)


def _alive(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, IndexError):
        return False
