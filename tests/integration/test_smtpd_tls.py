"""qmail-smtpd TLS: STARTTLS (RFC 3207), SMTPS (RFC 8314), protocol
versions, the state reset and the plaintext injection discard, and
relaying for client certificates signed by control/clientca.pem."""
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import unittest

import test_smtpd as base

CERTS = None


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs():
    """A CA, a server certificate for example.test, a client certificate
    signed by the CA and a self-signed client certificate (EC keys: fast)."""
    d = tempfile.mkdtemp(prefix="smtpd-certs-")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=test CA", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "server.key", "-out", "server.crt", "-days", "2",
            "-subj", "/CN=example.test", "-addext", "subjectAltName=DNS:example.test,IP:127.0.0.1", cwd=d)
    openssl("req", "-new", *ec, "-keyout", "client.key", "-out", "client.csr",
            "-subj", "/CN=client.test", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "client.crt", "-days", "2", cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2",
            "-subj", "/CN=client.test", cwd=d)
    with open(os.path.join(d, "servercert.pem"), "wb") as out:
        for n in ("server.crt", "server.key"):
            with open(os.path.join(d, n), "rb") as f:
                out.write(f.read())
    return d


def client_context(maximum=None, cert=None):
    ctx = ssl.create_default_context(cafile=os.path.join(CERTS, "server.crt"))
    if maximum is not None:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = maximum
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if cert:
        ctx.load_cert_chain(os.path.join(CERTS, cert + ".crt"), os.path.join(CERTS, cert + ".key"))
    return ctx


def read_reply(f):
    """Reads one (possibly multi-line) reply from a file object."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            break
        lines.append(line)
        if line[3:4] == b" ":
            break
    return b"".join(lines).decode()


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class Tls(base.SmtpdTestCase):
    @classmethod
    def setUpClass(cls):
        global CERTS
        if CERTS is None:
            CERTS = make_certs()

    def setUp(self):
        super().setUp()
        shutil.copy(os.path.join(CERTS, "servercert.pem"),
                    self.home.path("control", "servercert.pem"))
        os.chmod(self.home.path("control", "servercert.pem"), 0o600)

    def test_starttls_sends_mail(self):
        lst = self.listener()
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.ehlo("client.test")
            self.assertTrue(c.has_extn("starttls"))
            code, _ = c.starttls(context=client_context())
            self.assertEqual(code, 220)
            self.assertEqual(c.sock.version(), "TLSv1.3")
            c.ehlo("client.test")
            self.assertFalse(c.has_extn("starttls"))
            self.assertEqual(c.docmd("STARTTLS")[0], 503)
            c.sendmail("a@b.test", ["u@example.test"], b"Subject: tls\r\n\r\nsecret\r\n")
        q = self.queued()
        self.assertEqual(len(q), 1)
        self.assertIn(b" with ESMTPS; ", q[0][2])
        self.assertTrue(q[0][2].endswith(b"secret\n"))

    def test_tls12_accepted(self):
        lst = self.listener()
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.starttls(context=client_context(maximum=ssl.TLSVersion.TLSv1_2))
            self.assertEqual(c.sock.version(), "TLSv1.2")
            self.assertEqual(c.noop()[0], 250)

    def test_tls10_and_11_refused(self):
        lst = self.listener()
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            ctx = client_context(maximum=version)
            with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
                c.ehlo("x")
                with self.assertRaises((ssl.SSLError, ConnectionError, smtplib.SMTPException)):
                    c.starttls(context=ctx)
                c.close()

    def test_starttls_resets_the_session(self):
        lst = self.listener()
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.ehlo("x")
            self.assertEqual(c.mail("a@b.test")[0], 250)
            c.starttls(context=client_context())
            c.ehlo("x")
            self.assertEqual(c.rcpt("u@example.test")[0], 503)  # MAIL was forgotten

    def test_pipelined_commands_after_starttls_are_discarded(self):
        lst = self.listener()
        s = socket.create_connection(("127.0.0.1", lst.port), timeout=30)
        f = s.makefile("rb")
        self.assertTrue(read_reply(f).startswith("220 "))
        s.sendall(b"EHLO x\r\nSTARTTLS\r\nMAIL FROM:<evil@x.test>\r\n"
                  b"RCPT TO:<victim@example.test>\r\n")
        self.assertIn("STARTTLS", read_reply(f))
        self.assertTrue(read_reply(f).startswith("220 2.0.0"))
        try:
            t = client_context().wrap_socket(s, server_hostname="example.test")
        except (ssl.SSLError, ConnectionError):
            self.assertEqual(self.queued(), [])  # the injection broke the handshake: fine
            return
        tf = t.makefile("rb")
        t.sendall(b"EHLO y\r\n")
        self.assertIn("250", read_reply(tf))
        t.sendall(b"RCPT TO:<u@example.test>\r\nDATA\r\nQUIT\r\n")
        self.assertTrue(read_reply(tf).startswith("503 5.5.1 MAIL first"))
        self.assertTrue(read_reply(tf).startswith("503 5.5.1 MAIL first"))
        self.assertTrue(read_reply(tf).startswith("221"))
        t.close()
        self.assertEqual(self.queued(), [])

    def test_smtps(self):
        lst = self.listener(SMTPS="1")
        with smtplib.SMTP_SSL("127.0.0.1", lst.port, timeout=30,
                              context=client_context()) as c:
            c.ehlo("client.test")
            self.assertFalse(c.has_extn("starttls"))
            c.sendmail("a@b.test", ["u@example.test"], b"Subject: smtps\r\n\r\nx\r\n")
        self.assertIn(b" with ESMTPS; ", self.queued()[0][2])

    def test_smtps_plaintext_client_gets_nothing(self):
        lst = self.listener(SMTPS="1")
        s = socket.create_connection(("127.0.0.1", lst.port), timeout=30)
        s.sendall(b"EHLO x\r\n")
        got = b""
        while True:
            try:
                b = s.recv(4096)
            except ConnectionError:
                break
            if not b:
                break
            got += b
        s.close()
        self.assertNotIn(b"220 ", got)

    def test_client_certificate_relaying(self):
        shutil.copy(os.path.join(CERTS, "ca.pem"), self.home.path("control", "clientca.pem"))
        lst = self.listener()
        for cert, want in [("client", 250), (None, 553), ("rogue", 553)]:
            with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
                c.starttls(context=client_context(cert=cert))
                c.ehlo("x")
                c.mail("a@b.test")
                self.assertEqual(c.rcpt("u@elsewhere.test")[0], want, cert)
                self.assertEqual(c.rcpt("u@example.test")[0], 250, cert)

    def test_worker_keeps_the_context_until_the_certificate_changes(self):
        """Behind qmail-tcpsrv one reused qmail-smtpd serves STARTTLS on
        every connection with the context it loaded once, and presents a
        new certificate at the next connection after servercert.pem is
        replaced, and after the target of a servercert.pem that is a
        symbolic link changes (nothing changes in control/ then)."""
        from qmtplib import Listener as TcpSrv
        other = tempfile.mkdtemp(prefix="smtpd-certs2-")
        self.addCleanup(shutil.rmtree, other, True)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ("two", "three"):
            openssl("req", "-x509", *ec, "-keyout", name + ".key", "-out", name + ".crt",
                    "-days", "2", "-subj", "/CN=%s.example" % name, cwd=other)
            with open(os.path.join(other, name + ".pem"), "wb") as out:
                for n in (name + ".crt", name + ".key"):
                    with open(os.path.join(other, n), "rb") as f:
                        out.write(f.read())

        def der(path):
            with open(path) as f:
                text = f.read()
            start = text.index("-----BEGIN CERTIFICATE-----")
            end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
            return ssl.PEM_cert_to_DER_cert(text[start:end])

        srv = TcpSrv(self.home, "qmail-smtpd", opts=["-v", "-c", "1"])
        self.addCleanup(srv.stop)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

        def presented():
            with smtplib.SMTP("127.0.0.1", srv.port, timeout=30) as c:
                c.ehlo("client.test")
                self.assertEqual(c.starttls(context=ctx)[0], 220)
                return c.sock.getpeercert(binary_form=True)

        served = os.path.join(self.home.path("control"), "servercert.pem")
        one = der(os.path.join(CERTS, "server.crt"))
        self.assertEqual(presented(), one)
        self.assertEqual(presented(), one)
        shutil.copy(os.path.join(other, "two.pem"), served)
        self.assertEqual(presented(), der(os.path.join(other, "two.crt")))
        target = os.path.join(other, "live.pem")
        shutil.copy(os.path.join(other, "two.pem"), target)
        os.unlink(served)
        os.symlink(target, served)
        self.assertEqual(presented(), der(os.path.join(other, "two.crt")))
        shutil.copy(os.path.join(other, "three.pem"), target + ".new")
        os.rename(target + ".new", target)  # a renewal behind the link
        self.assertEqual(presented(), der(os.path.join(other, "three.crt")))
        pids = set(re.findall(r"pid (\d+) from", srv.text()))
        self.assertEqual(len(pids), 1, srv.text())

    def test_unusable_certificate_disables_starttls(self):
        self.home.control("servercert.pem", "not a certificate\n")
        out, _, err = self.smtpd(b"EHLO x\r\nSTARTTLS\r\nQUIT\r\n")
        self.assertNotIn("STARTTLS", out)
        self.assertIn("454 4.7.0 TLS not available", out)
        self.assertIn("STARTTLS disabled", err)


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        if CERTS:
            shutil.rmtree(CERTS, ignore_errors=True)
