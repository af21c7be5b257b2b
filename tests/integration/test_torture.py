"""Torture test: several injectors push messages through qmail-inject (or
sendmail) to local Maildirs while a driver SIGKILLs qmail-send,
qmail-lspawn, qmail-local, qmail-queue and qmail-clean at random moments
and restarts the system whenever it went down. At the end, after a clean
restart and an empty queue: every acknowledged message is in its mailbox
(none lost), no mailbox file is corrupt, nothing is stuck in the queue.
Duplicates are allowed, counted and printed.

Environment: TORTURE_MESSAGES (2000), TORTURE_KILLS (50), TORTURE_SEED
(random, printed), TORTURE_THREADS (4), TORTURE_BUDGET (seconds the
injection may take, 150; fewer messages are injected when it would take
longer, e.g. in sanitizer builds; 0: no limit), TORTURE_VARIETY (1: also a
forward and a program delivery), TORTURE_DRAIN_TIMEOUT (seconds, 180),
TORTURE_KEEP (1: keep the home for inspection). scripts/torture-long runs
this same file with bigger numbers.
"""
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torturelib as tl  # noqa: E402


def run_torture(test, messages, kills, seed, threads=4, variety=True, drain_timeout=180.0,
                budget=0):
    t0 = time.time()
    tl.log("torture: TORTURE_SEED=%d TORTURE_MESSAGES=%d TORTURE_KILLS=%d threads=%d variety=%d"
           % (seed, messages, kills, threads, variety))
    home = tl.new_home()
    keep = os.environ.get("TORTURE_KEEP") == "1"
    system = tl.System(home)

    def cleanup():
        system.stop()
        if keep:
            tl.log("torture: home kept in %s" % home.tmp)
        else:
            import shutil
            shutil.rmtree(home.tmp, ignore_errors=True)
    test.addCleanup(cleanup)
    tl.log("torture: home %s" % home.dir)

    boxes = tl.Mailboxes(home, variety=variety)
    system.start()
    inj = tl.Injection(home, boxes, seed, messages, threads=threads)
    killer = tl.Killer(system, inj, kills, random.Random(seed))
    inj.start()
    killer.start()
    last = time.time()
    checked = False
    while any(t.is_alive() for t in inj.threads):
        inj.join(1)
        el = time.time() - t0
        if budget and not checked and el > 10 and inj.progress() > 0:
            # Fit the injection into the time budget (slow sanitizer
            # builds, busy machines): fewer messages, the same kills.
            checked = True
            projected = el * messages / inj.progress()
            if projected > budget:
                new = inj.shrink(int(messages * budget / projected))
                tl.log("torture: %.0f s projected for %d messages, over the %d s budget "
                       "(TORTURE_BUDGET): injecting %d" % (projected, messages, budget, new))
        if time.time() - last > 10:
            last = time.time()
            tl.log("torture: %d/%d injected, %d kills, %d restarts"
                   % (inj.progress(), messages, len(killer.done), system.restarts))
    killer.join(300)
    test.assertFalse(killer.is_alive(), "killer thread hangs")
    if killer.error:
        raise killer.error
    t_inject = time.time() - t0

    # A clean restart, then wait for every committed message to be done.
    system.stop()
    system.start()
    tl.drain(system, drain_timeout)

    # Debris of qmail-queue runs killed before they committed: qmail
    # removes it once it is 36 hours old. Age it and let a fresh
    # qmail-send (and qmail-clean) clean up.
    debris = tl.queue_files(home, tl.DEBRIS_DIRS)
    if debris:
        tl.log("torture: %d debris files of killed qmail-queue runs; aging them" % len(debris))
        tl.age_debris(home)
        system.stop()
        system.start()
        try:
            tl.wait_for(lambda: not tl.queue_files(home, tl.QUEUE_DIRS), 60,
                        "old debris to be cleaned")
        except AssertionError:
            pass
    system.stop()
    left = tl.queue_files(home, tl.QUEUE_DIRS)
    qs = tl.qstat(home)

    census = tl.Census(boxes, seed)
    acc = census.account(boxes, inj.acked, inj.attempted)
    by_prog = {}
    for prog, _ in killer.done:
        by_prog[prog] = by_prog.get(prog, 0) + 1
    fail_codes = {}
    for rc, _ in inj.failed.values():
        fail_codes[rc] = fail_codes.get(rc, 0) + 1
    elapsed = time.time() - t0
    tl.log("TORTURE RESULT: seed=%d messages=%d acked=%d failed=%d (exit codes %s) kills=%d %s "
           "misses=%d restarts=%d lost=%d duplicates=%d corrupt=%d unacked_delivered=%d "
           "files=%d maildir_tmp_leftovers=%d queue_left=%d inject_s=%.1f total_s=%.1f"
           % (seed, inj.total, len(inj.acked), len(inj.failed), fail_codes, len(killer.done),
              by_prog, killer.misses, system.restarts, len(acc["lost"]), acc["duplicates"],
              len(census.corrupt), acc["unacked_delivered"], census.files,
              census.tmp_leftovers, len(left), t_inject, elapsed))
    if acc["duplicate_list"]:
        tl.log("torture: duplicated (n, box, copies): %s" % acc["duplicate_list"][:20])
    for o in system.observations:
        tl.log("torture: observation: %s" % o)
    if qs is not None:
        tl.log("torture: qmail-qstat: %s" % qs.strip().replace("\n", "; "))
    if acc["lost"] or census.corrupt or left:
        keep_note = " (set TORTURE_KEEP=1 to keep the home)" if not keep else ""
        tl.log("torture: FAILED; replay with TORTURE_SEED=%d%s" % (seed, keep_note))
        tl.log("torture: last log lines:\n" + "\n".join(home.log().splitlines()[-30:]))

    test.assertEqual(acc["lost"][:50], [], "acknowledged messages lost (n, box)")
    test.assertEqual(census.corrupt[:20], [], "corrupt mailbox files")
    test.assertEqual(acc["unknown"], [], "delivered messages never injected")
    committed = [p for p in left if any("/queue/%s/" % d in p for d in tl.COMMITTED_DIRS)]
    test.assertEqual(committed[:20], [], "messages stuck in the queue")
    test.assertEqual(left[:20], [], "debris left in the queue (pid/, intd/, mess/) "
                     "after it was made 40 hours old and qmail was restarted")
    if qs is not None:
        nums = [int(x) for x in __import__("re").findall(r"\d+", qs)]
        test.assertTrue(all(x == 0 for x in nums), "qmail-qstat: " + qs)
    return acc


class TortureTest(unittest.TestCase):
    def test_torture(self):
        missing = tl.missing_programs()
        if missing:
            self.skipTest("programs not built yet: " + ", ".join(missing))
        run_torture(self,
                    messages=tl.env_int("TORTURE_MESSAGES", 2000),
                    kills=tl.env_int("TORTURE_KILLS", 50),
                    seed=tl.choose_seed(),
                    threads=tl.env_int("TORTURE_THREADS", 4),
                    variety=bool(tl.env_int("TORTURE_VARIETY", 1)),
                    drain_timeout=tl.env_float("TORTURE_DRAIN_TIMEOUT", 180.0),
                    budget=tl.env_int("TORTURE_BUDGET", 150))


if __name__ == "__main__":
    unittest.main()
