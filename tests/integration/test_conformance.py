"""Black-box conformance: behaviours that qmail's man pages document and
that a sweep of the real programs found wrong (docs/conformance.md lists
what was checked). Each test runs the real program in a fresh home."""
import os
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import unittest

import qmailtest
from qmailtest import HomeTestCase
from test_smtpd import SmtpdTestCase, envelope


class SmtpdRelayclient(SmtpdTestCase):
    """qmail-smtpd(8): with RELAYCLIENT set, qmail-smtpd "will append the
    value of RELAYCLIENT to each incoming recipient address"."""

    def test_appended_to_an_address_without_at(self):
        # <box> + "@relay.test" is box@relay.test, not box@envnoathost@relay.test.
        self.smtpd(envelope(rcpts=["box", "u@other.test"]), RELAYCLIENT="@relay.test")
        self.assertEqual(self.queued()[0][1], ["box@relay.test", "u@other.test@relay.test"])

    def test_suffix_without_at_still_gets_envnoathost(self):
        # <box> + "-x" has no @: it is a local address, box-x@envnoathost.
        self.smtpd(envelope(rcpts=["box"]), RELAYCLIENT="-x")
        self.assertEqual(self.queued()[0][1], ["box-x@example.test"])

    def test_empty_relayclient_keeps_the_address(self):
        self.smtpd(envelope(rcpts=["box", "u@other.test"]), RELAYCLIENT="")
        self.assertEqual(self.queued()[0][1], ["box@example.test", "u@other.test"])


def make_email_certs():
    """A CA; a server certificate for example.test; client certificates
    signed by the CA: alice (subject emailAddress), carol (subjectAltName
    email), bob (another address); and a self-signed alice."""
    d = tempfile.mkdtemp(prefix="conf-certs-")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=test CA")
    openssl("req", "-x509", *ec, "-keyout", "server.key", "-out", "server.crt", "-days", "2",
            "-subj", "/CN=example.test", "-addext", "subjectAltName=DNS:example.test,IP:127.0.0.1")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=email:Carol@Client.test\n")
    for name, subj, ext in [("alice", "/CN=alice/emailAddress=alice@client.test", None),
                            ("carol", "/CN=carol", "ext"),
                            ("bob", "/CN=bob/emailAddress=bob@client.test", None)]:
        openssl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2",
                *(["-extfile", ext] if ext else []))
    openssl("req", "-x509", *ec, "-keyout", "rogue.key", "-out", "rogue.crt", "-days", "2",
            "-subj", "/CN=alice/emailAddress=alice@client.test")
    with open(os.path.join(d, "servercert.pem"), "wb") as out:
        for n in ("server.crt", "server.key"):
            with open(os.path.join(d, n), "rb") as f:
                out.write(f.read())
    return d


@unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
class SmtpdTlsClients(SmtpdTestCase):
    """qmail-smtpd(8) of the qmail TLS patch: tlsclients lists the e-mail
    addresses whose certificates (verified against clientca.pem) may relay."""

    def setUp(self):
        super().setUp()
        self.certs = make_email_certs()
        self.addCleanup(shutil.rmtree, self.certs, True)
        for src, dst in [("servercert.pem", "servercert.pem"), ("ca.pem", "clientca.pem")]:
            shutil.copy(os.path.join(self.certs, src), self.home.path("control", dst))
        os.chmod(self.home.path("control", "servercert.pem"), 0o600)

    def rcpt_codes(self, lst, cert):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "server.crt"))
        if cert:
            ctx.load_cert_chain(os.path.join(self.certs, cert + ".crt"),
                                os.path.join(self.certs, cert + ".key"))
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.starttls(context=ctx)
            c.ehlo("x")
            c.mail("a@b.test")
            return c.rcpt("u@elsewhere.test")[0], c.rcpt("u@example.test")[0]

    def test_only_listed_addresses_relay(self):
        self.home.control("tlsclients", "# who may relay\nALICE@client.test  \ncarol@client.test\n")
        lst = self.listener()
        for cert, want in [("alice", 250), ("carol", 250), ("bob", 553), ("rogue", 553),
                           (None, 553)]:
            self.assertEqual(self.rcpt_codes(lst, cert), (want, 250), cert)

    def negotiated(self, lst):
        ctx = ssl.create_default_context(cafile=os.path.join(self.certs, "server.crt"))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with smtplib.SMTP("127.0.0.1", lst.port, timeout=30) as c:
            c.starttls(context=ctx)
            return c.sock.cipher()[0]

    def test_tlsserverciphers_and_tlsciphers_choose_the_tls12_suite(self):
        self.home.control("tlsserverciphers", "ECDHE-ECDSA-CHACHA20-POLY1305\n")
        self.assertEqual(self.negotiated(self.listener()), "ECDHE-ECDSA-CHACHA20-POLY1305")
        # $TLSCIPHERS takes precedence over the control file.
        lst = self.listener(TLSCIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(self.negotiated(lst), "ECDHE-ECDSA-AES128-GCM-SHA256")

    def test_tlsserverciphers_never_widens_the_policy(self):
        # A suite without forward secrecy or AEAD is not taken: with nothing
        # else named, STARTTLS is off (and the reason is logged).
        self.home.control("tlsserverciphers", "AES128-SHA\n")
        out, _, err = self.smtpd(b"EHLO x\r\nSTARTTLS\r\nQUIT\r\n")
        self.assertNotIn("STARTTLS", out)
        self.assertIn("454 4.7.0 TLS not available", out)
        self.assertIn("STARTTLS disabled", err)

    def test_startup_warnings_only_when_tls_is_off(self):
        out, _, err = self.smtpd(b"EHLO x\r\nQUIT\r\n")
        self.assertIn("250-STARTTLS", out)
        self.assertNotIn("STARTTLS disabled", err)
        self.home.control("tlsclients", "alice@client.test\n")
        self.home.control("tlsserverciphers", "AES128-SHA\n")
        out, _, err = self.smtpd(b"EHLO x\r\nQUIT\r\n")
        self.assertNotIn("STARTTLS", out)
        self.assertIn("STARTTLS disabled", err)

    def test_clientcrl_revokes(self):
        d = self.certs
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n"
                    "default_md = sha256\ndefault_crl_days = 2\n")
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("01\n")
        for args in (["-revoke", "bob.crt"], ["-gencrl", "-out", "crl.pem"]):
            subprocess.run(["openssl", "ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert",
                            "ca.pem", *args], cwd=d, check=True, capture_output=True)
        shutil.copy(os.path.join(d, "crl.pem"), self.home.path("control", "clientcrl.pem"))
        lst = self.listener()
        for cert, want in [("alice", 250), ("bob", 553)]:
            self.assertEqual(self.rcpt_codes(lst, cert), (want, 250), cert)

    def test_without_tlsclients_every_verified_client_relays(self):
        lst = self.listener()
        for cert, want in [("bob", 250), ("rogue", 553), (None, 553)]:
            self.assertEqual(self.rcpt_codes(lst, cert), (want, 250), cert)


class InjectSenderFields(HomeTestCase):
    """qmail-inject(8) exits 100 on a severe syntax error in the message;
    qmail-header(5) lists the sender fields whose addresses it rewrites: one
    it cannot parse is such an error, as in qmail, even with recipients on
    the command line."""

    def inject(self, header, args=("ok@x.test",)):
        return self.home.run("qmail-inject", list(args),
                             input=header + b"\nbody\n",
                             env=self.home.env(QMAILQUEUE="/bin/false", USER="joe"))

    def test_unparsable_sender_field_is_permanent(self):
        for field in [b"From", b"Sender", b"Reply-To", b"Return-Receipt-To", b"Errors-To",
                      b"Resent-From", b"Resent-Sender", b"Resent-Reply-To"]:
            for value in [b'"unterminated <a@b.test>', b"<a@b.test", b"a@[1.2.3.4",
                          b"(open comment a@b.test"]:
                with self.subTest(field=field, value=value):
                    p = self.inject(b"To: t@x.test\n" + field + b": " + value + b"\n")
                    self.assertEqual(p.returncode, 100, p.stderr)
                    self.assertIn(b"qmail-inject: fatal: unable to parse this line", p.stderr)

    def test_odd_but_parsable_sender_fields_pass(self):
        # token-level oddities qmail accepts stay accepted (exit 0 with -n).
        for value in [b"Joe Smith, Jr. <joe@x.test>", b"a@b@c", b"<>", b"undisclosed:;",
                      b'"quoted, name" <a@b.test>', b"Joe (c (nested)) <a@b.test>"]:
            with self.subTest(value=value):
                p = self.home.run("qmail-inject", ["-n", "ok@x.test"],
                                  input=b"From: " + value + b"\n\nbody\n",
                                  env=self.home.env(USER="joe"))
                self.assertEqual(p.returncode, 0, p.stderr)


class LocalTestWhileEditing(HomeTestCase):
    """dot-qmail(5) SAFE QMAIL EDITING: with the home directory sticky,
    deliveries are deferred, and `qmail-local -n $USER ~ $USER '' '' '' ''
    ./Mailbox` tests the new .qmail (qmail only warns there)."""

    def test_n_works_in_a_sticky_home(self):
        uhome = os.path.join(self.home.tmp, "joe")
        os.mkdir(uhome, 0o755)
        with open(os.path.join(uhome, ".qmail"), "w") as f:
            f.write("# new\n./Maildir/\n&joe@elsewhere.test\n")
        os.chmod(uhome, 0o1755)
        args = ["joe", uhome, "joe", "", "", "", "", "./Mailbox"]
        p = self.home.run("qmail-local", ["-n"] + args)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, b"maildir: ./Maildir/\nforward: joe@elsewhere.test\n")
        self.assertIn(b"sticky", p.stderr)
        # A real delivery still waits for chmod -t.
        p = self.home.run("qmail-local", args, input=b"Subject: x\n\nbody\n")
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"Home directory is sticky", p.stdout)


class Showctl(HomeTestCase):
    """qmail-showctl(8) describes the control files as the programs use them."""

    def showctl(self):
        return self.home.run_ok("qmail-showctl").stdout.decode()

    def test_morercpthosts_with_rcpthosts(self):
        # config-fast wrote rcpthosts: morercpthosts is not "irrelevant".
        self.assertTrue(os.path.exists(self.home.path("control", "rcpthosts")))
        out = self.showctl()
        self.assertNotIn("No rcpthosts", out)
        self.assertIn("\nmorercpthosts: (Default.) No effect.\n", out)
        self.home.control("morercpthosts", "more.test\n")
        out = self.showctl()
        self.assertIn("\nmorercpthosts: \n"
                      "SMTP clients may send messages to recipients at more.test.\n", out)

    def test_morercpthosts_without_rcpthosts(self):
        os.unlink(self.home.path("control", "rcpthosts"))
        out = self.showctl()
        self.assertIn("\nmorercpthosts: (Default.) No rcpthosts; morercpthosts is irrelevant.\n",
                      out)

    def test_databytes_default_is_what_qmail_smtpd_uses(self):
        # Without control/databytes qmail-smtpd takes 10485760 bytes (EHLO
        # says SIZE 10485760); showctl must not claim "0 bytes".
        out = self.showctl()
        self.assertIn("\ndatabytes: (Default.) SMTP DATA limit is 10485760 bytes.\n", out)
        p = self.home.run("qmail-smtpd", input=b"EHLO x\r\nQUIT\r\n",
                          env=self.home.env(TCPREMOTEIP="127.0.0.1", TCPLOCALIP="127.0.0.1"))
        self.assertIn(b"250-SIZE 10485760\r\n", p.stdout)

    def test_knows_every_control_file_our_programs_read(self):
        # qmail-control(5) lists them; none is "I have no idea what this file does".
        for name, text in [("maxrcpt", "5\n"), ("bouncemaxbytes", "0\n"),
                           ("tlsdestinations", "secure.test\n"), ("tlsclients", "a@b.test\n"),
                           ("dnsresolvers", "127.0.0.1\n"), ("recipients", "a@example.test\n"),
                           ("servercert.pem", "x\n"), ("clientca.pem", "x\n"),
                           ("recipients.cdb", ""), ("clientcrl.pem", "x\n"),
                           ("tlsserverciphers", "ECDHE-RSA-AES128-GCM-SHA256\n")]:
            self.home.control(name, text)
        out = self.showctl()
        self.assertNotIn("I have no idea", out)
        for want in ["\nmaxrcpt: SMTP recipients per message: at most 5.\n",
                     "\nbouncemaxbytes: Bounces quote at most 0 bytes",
                     "\ntlsdestinations: \n"
                     "TLS with a verified certificate required for secure.test.\n",
                     "\ndnsresolvers: \nDNS server: 127.0.0.1.\n",
                     "\ntlsclients: \nA client with a certificate from clientca.pem for a@b.test"
                     " may relay.\n",
                     "\nrecipients: \nValid recipient: a@example.test.\n",
                     "\ntlsserverciphers: \n"
                     "TLS 1.2 cipher (if allowed): ECDHE-RSA-AES128-GCM-SHA256.\n",
                     "\nservercert.pem: ", "\nclientca.pem: ", "\nrecipients.cdb: ",
                     "\nclientcrl.pem: "]:
            self.assertIn(want, out)

    def test_tls_patch_files_of_qmail_remote(self):
        # qmail-remote(8) reads the TLS patch's clientcert.pem,
        # tlsclientciphers, tlshosts/ and notlshosts/.
        out = self.showctl()
        for want in ["\ntlsclientciphers: (Default.) ",
                     "\ntlshosts: (Default.) ",
                     "\nnotlshosts: (Default.) "]:
            self.assertIn(want, out)
        self.assertNotIn("\nclientcert.pem: ", out)
        self.home.control("clientcert.pem", "x\n")
        self.home.control("tlsclientciphers", "ECDHE-RSA-AES256-GCM-SHA384\n")
        os.mkdir(self.home.path("control", "tlshosts"))
        os.mkdir(self.home.path("control", "notlshosts"))
        self.home.control("tlshosts/mx.secure.test.pem", "x\n")
        self.home.control("tlshosts/Upper.test.pem", "x\n")
        self.home.control("tlshosts/exhaustivelist", "")
        self.home.control("tlshosts/stray", "")
        self.home.control("notlshosts/mx.broken.test", "")
        self.home.control("notlshosts/.hidden", "")
        out = self.showctl()
        for want in ["\nclientcert.pem: qmail-remote presents this certificate",
                     "\ntlsclientciphers: qmail-remote's TLS 1.2 cipher list is"
                     " ECDHE-RSA-AES256-GCM-SHA384.\n",
                     "\ntlshosts: \n",
                     "TLS with a certificate verified against tlshosts/mx.secure.test.pem"
                     " required for mx.secure.test.\n",
                     "TLS is tried only with the servers listed here (exhaustivelist).\n",
                     "Oops! tlshosts/Upper.test.pem: qmail-remote looks for lower-case"
                     " names only.\n",
                     "tlshosts/stray: I have no idea what this file does.\n",
                     "\nnotlshosts: \n",
                     "No TLS with mx.broken.test (unless tlshosts/mx.broken.test.pem"
                     " exists).\n"]:
            self.assertIn(want, out)
        self.assertNotIn("\ntlshosts: I have no idea", out)
        self.assertNotIn("\nnotlshosts: I have no idea", out)
        self.assertNotIn(".hidden", out)


if __name__ == "__main__":
    unittest.main()
