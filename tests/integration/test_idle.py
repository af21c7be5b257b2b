"""qmail-idle(8) on its own: it waits for descriptor 0 without reading it,
then executes the program it stands for, which finds every byte; at end
of file it exits 0; bad usage and an unrunnable program are errors."""
import os
import subprocess
import time
import unittest

from qmailtest import BUILD, proc_comm, wait_for

IDLE = os.path.join(BUILD, "qmail-idle")
CAT = "/bin/cat"


class IdleTest(unittest.TestCase):
    def start(self, *args):
        p = subprocess.Popen([IDLE, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def test_waits_then_runs_the_program_which_reads_everything(self):
        p = self.start(CAT, "-")
        wait_for(lambda: proc_comm(p.pid) == "cat", 10, "qmail-idle to name itself")
        time.sleep(0.2)
        self.assertIsNone(p.poll())  # still waiting
        self.assertEqual(os.readlink("/proc/%d/exe" % p.pid), os.path.realpath(IDLE))
        out, err = p.communicate(b"first bytes\nand more\n", timeout=20)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, b"first bytes\nand more\n")  # nothing lost

    def test_the_program_gets_our_argument_0(self):
        """Called with a daemon's name as argument 0, qmail-idle passes it
        on: the program's command line starts with that name."""
        script = 'tr "\\0" " " < /proc/$$/cmdline; echo; exec cat'
        p = subprocess.Popen(["some-daemon", "/bin/sh", "-c", script], executable=IDLE,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: p.poll() is None and p.kill())

        def cmdline():
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                return f.read()
        # Popen returns once exec has begun; the new command line is in
        # place a moment later.
        wait_for(lambda: cmdline().startswith(b"some-daemon\0/bin/sh\0"), 10,
                 "qmail-idle's command line")
        out, err = p.communicate(b"data\n", timeout=20)
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, b"some-daemon -c %s \ndata\n" % script.encode())

    def test_end_of_file_exits_0_without_running_it(self):
        p = self.start("/bin/false")
        out, err = p.communicate(b"", timeout=20)
        self.assertEqual(p.returncode, 0, err)  # /bin/false would have exited 1

    def test_usage_and_unrunnable_program(self):
        p = subprocess.run([IDLE], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 100)
        self.assertIn(b"usage", p.stderr)
        p = subprocess.run([IDLE, "cat"], capture_output=True, timeout=20)
        self.assertEqual(p.returncode, 100)  # not an absolute path
        p = subprocess.run([IDLE, "/nonexistent/program"], input=b"x", capture_output=True,
                           timeout=20)
        self.assertEqual(p.returncode, 111)
        self.assertIn(b"unable to run /nonexistent/program", p.stderr)


if __name__ == "__main__":
    unittest.main()
