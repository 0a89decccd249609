"""Name resolution as a user sees it (SPEC 3.2, 3.6, 3.8): the real binary in a private network
and mount namespace (netns.py, as root) whose resolver is a DNS stand-in on 127.0.0.1:53
(dns_standin.py), with SMTP peers on loopback and a blackholed address (10.99.0.1) whose SYNs
vanish. Nothing here reaches beyond the namespace.

Expected on the OLD resolver (Asio's getaddrinfo thread, addresses one after another; seen
with build-tsan/ of 2026-12-01, the last build without c-ares):
  - ProbeFailsFast.test_probe_*: fail. The report is right at once (TotalMs 17-29), but
    `probe` exits only when the deadline timer fires (5 s), after any failure.
  - SilentNamesDoNotStall: both fail. getaddrinfo cannot be cancelled and glibc waits 5 s x 2
    for a silent server: all 14 HTTP answers came after 10.4 s (not at the 2 s deadline), 8
    of the 10 good names with the timeout; `probe --timeout-ms 1500` exits after 10.4 s.
  - BlackholedFirst.test_blackholed_address_first: fails. glibc sorts the local peer address
    before 10.99.0.1 (RFC 6724 as glibc applies it to IPv4), so Tried has one address.
    (c-ares's ares_getaddrinfo keeps the DNS order between these two, checked with 1.18.1.)
  - Cache: both fail (no cache, no Server.Dns, no smtp.dns_cache_entries key).
The others pass on both."""

import base64
import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import unittest

import harness
import netns
from dns_standin import DnsStandin
from harness import SMTPCHECK, Server
from smtp_peers import Aiosmtpd, Pki, SmtpSink, free_port

U = "/api/v1/Agents/CustomerService/TestSmtpServer"
DIAGNOSE = "/api/v1/smtpcheck/Diagnose"
LOOPBACK = ["smtp.allow_private_destinations=true", "smtp.allowed_ports=*"]
USER, PASSWORD = "dnsuser", "dns-password"
CLOSED_PORT = 9  # nothing listens on it inside the namespace: connect refused
ZONE = {
    "mx.test": ["127.0.0.1"],
    "gone.test": "nxdomain",
    "broken.test": "servfail",
    "*.silent.test": "silent",
    "*.good.test": ["127.0.0.1"],
    "two.test": [netns.BLACKHOLED, netns.PEER_ADDRESS],  # in this order in every answer
    "two-loopback.test": [netns.BLACKHOLED, "127.0.0.1"],
    "cached.test": ["127.0.0.1"],
    "uncached.test": ["127.0.0.1"],
    "many.test": [f"127.0.1.{i}" for i in range(1, 101)],  # 100 A records: over UDP, then TCP
}
DNS = None


def setUpModule():
    global DNS
    harness.LOCAL_DNS = None  # the namespace's resolv.conf names the stand-in
    netns.enter()  # the whole test process, before any thread; smtpcheck and peers inherit it
    DNS = DnsStandin(ZONE, address="127.0.0.1", port=53).start()


def tearDownModule():
    if DNS:
        DNS.stop()


def probe(uri, *args, timeout=30):
    """`smtpcheck probe --json`: exit status, report, seconds until the process ended."""
    cmd = [SMTPCHECK, "probe", uri, "--from", "jane@example.com", "--json"]
    for s in LOOPBACK:
        cmd += ["--set", s]
    t0 = time.monotonic()
    out = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - t0
    doc = json.loads(out.stdout) if out.stdout.strip() else None
    return out.returncode, doc, elapsed


_hash = None


def serve(*settings):
    global _hash
    if _hash is None:
        _hash = subprocess.run([SMTPCHECK, "hash-password"], input=PASSWORD + "\n", capture_output=True,
                               text=True, check=True, timeout=30).stdout.strip()
    return Server(f"users.{USER}={_hash}", *LOOPBACK, "log.access=false", *settings)


def post(server, path, uri, timeout=15):
    """One POST with a JSON body: status, parsed body, seconds as the client saw them."""
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    body = json.dumps({"SmtpUri": uri, "From": "jane@example.com"})
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Authorization": "Basic " + auth,
                                                       "Content-Type": "application/json",
                                                       "Accept": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, json.loads(data), time.monotonic() - t0


class SmtpSinkAt:
    """smtp-sink on any local address (smtp_peers.SmtpSink listens on 127.0.0.1 only)."""

    def __init__(self, address, port=None):
        self.address, self.port = address, port or free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen(["/usr/sbin/smtp-sink", *user, f"{address}:{self.port}", "128"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection((address, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"smtp-sink on {address}:{self.port} did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Resolves(unittest.TestCase):
    """a. A name that resolves to a real SMTP server passes."""

    def test_name_to_local_sink_passes(self):
        sink = SmtpSink()
        try:
            rc, doc, elapsed = probe(f"smtp://mx.test:{sink.port}")
        finally:
            sink.stop()
        self.assertEqual(rc, 0, json.dumps(doc, indent=1))
        self.assertIs(doc["Success"], True)
        self.assertEqual(doc["Server"]["Host"], "mx.test")
        self.assertEqual(doc["Server"]["Address"], "127.0.0.1")
        self.assertEqual(doc["Server"]["Tried"], [{"Address": "127.0.0.1", "Outcome": "connected"}])
        self.assertLess(elapsed, 2.0)


class ProbeFailsFast(unittest.TestCase):
    """b. NXDOMAIN and SERVFAIL: SR_SMTP_DNS_FAILED in phase resolve, in well under 3 s, both
    from `probe` (the process's whole life) and from the Diagnose route."""

    def check(self, doc, host):
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_DNS_FAILED", json.dumps(doc, indent=1))
        self.assertEqual(doc["Phase"], "resolve")
        self.assertIs(doc["Success"], False)
        self.assertIn(host, doc["ErrorMessage"])
        self.assertEqual(doc["Server"]["Tried"], [])

    def probe_case(self, host):
        rc, doc, elapsed = probe(f"smtp://{host}:25")
        self.check(doc, host)
        self.assertEqual(rc, 14)
        self.assertLess(elapsed, 3.0, f"probe for {host} took {elapsed:.2f} s (report: {doc['TotalMs']} ms)")

    def test_probe_nxdomain(self):
        self.probe_case("gone.test")

    def test_probe_servfail(self):
        self.probe_case("broken.test")

    def test_diagnose_nxdomain_and_servfail(self):
        with serve() as server:
            for host in ("gone.test", "broken.test"):
                status, doc, elapsed = post(server, DIAGNOSE, f"smtp://{host}:25")
                self.assertEqual(status, 200)
                self.check(doc, host)
                self.assertLess(elapsed, 3.0, host)


class SilentNamesDoNotStall(unittest.TestCase):
    """c. The issue's main check: 4 tests whose DNS never answers, and 10 others started at
    the same moment whose DNS answers at once. The 10 succeed, each within 1.5 s as the client
    sees it; the 4 end with SR_SMTP_TIMEOUT in phase resolve at the deadline (2 s here)."""

    def test_silent_names_do_not_hold_up_others(self):
        sink = SmtpSink()
        try:
            with serve("api.slow_threshold_ms=2000") as server:
                # The password check (PBKDF2) done and cached first, so that the bounds below
                # are about DNS. Under ASan on a busy machine all 14 shared the first check and
                # even the good ones took 1.15 s; a silent name then ended at 3.1 s, not just
                # past its 2 s deadline.
                status, doc, _ = post(server, U, f"smtp://warm.good.test:{sink.port}")
                self.assertEqual((status, doc.get("Success")), (200, True), doc)
                start = threading.Barrier(14)

                def call(path, uri):
                    start.wait()
                    return post(server, path, uri)

                with concurrent.futures.ThreadPoolExecutor(14) as pool:
                    silent = [pool.submit(call, DIAGNOSE, f"smtp://s{i}.silent.test:{sink.port}") for i in range(4)]
                    good = [pool.submit(call, U, f"smtp://g{i}.good.test:{sink.port}") for i in range(10)]
                    silent = [f.result() for f in silent]
                    good = [f.result() for f in good]
                server.proc.kill()  # the old resolver thread may still be blocked for many seconds
        finally:
            sink.stop()
        summary = "good: " + ", ".join(f"{e:.2f}s {d.get('Success')}" for _, d, e in good) + \
                  "; silent: " + ", ".join(f"{e:.2f}s {d.get('ErrorCode')}/{d.get('Phase')}" for _, d, e in silent)
        print(f"\n  {summary}", flush=True)
        for status, doc, elapsed in good:
            self.assertEqual(status, 200, summary)
            self.assertIs(doc["Success"], True, f"{doc['ErrorMessage']} ({summary})")
            self.assertLess(elapsed, 1.5, summary)
        for status, doc, elapsed in silent:
            self.assertEqual(status, 200, summary)
            self.assertEqual((doc["ErrorCode"], doc["Phase"]), ("SR_SMTP_TIMEOUT", "resolve"), summary)
            self.assertGreaterEqual(elapsed, 1.9, summary)
            self.assertLess(elapsed, 3.0, summary)

    def test_silent_name_times_out_in_resolve(self):
        rc, doc, elapsed = probe("smtp://one.silent.test:25", "--timeout-ms", "1500")
        self.assertEqual((doc["ErrorCode"], doc["Phase"]), ("SR_SMTP_TIMEOUT", "resolve"), json.dumps(doc, indent=1))
        self.assertEqual(rc, 16)
        self.assertLess(elapsed, 2.5)


class BlackholedFirst(unittest.TestCase):
    """d. Happy Eyeballs (RFC 8305): the first address swallows SYNs, the second answers: the
    test passes well within a second, and Server.Tried lists both."""

    def test_blackholed_address_first(self):
        # Both addresses are of global scope, so RFC 6724 sorting (c-ares) keeps the DNS order.
        sink = SmtpSinkAt(netns.PEER_ADDRESS)
        try:
            rc, doc, elapsed = probe(f"smtp://two.test:{sink.port}")
        finally:
            sink.stop()
        tried = doc["Server"]["Tried"]
        self.assertIs(doc["Success"], True, json.dumps(doc, indent=1))
        self.assertLess(elapsed, 1.0, tried)
        self.assertEqual(doc["Server"]["Address"], netns.PEER_ADDRESS)
        self.assertEqual([t["Address"] for t in tried], [netns.BLACKHOLED, netns.PEER_ADDRESS], tried)
        self.assertEqual(tried[1]["Outcome"], "connected")

    def test_blackholed_beside_loopback(self):
        """The same with 127.0.0.1 as the second address: resolvers sort loopback first
        (RFC 6724 rule 8), so only speed and success are asserted; the order is printed."""
        sink = SmtpSink()
        try:
            rc, doc, elapsed = probe(f"smtp://two-loopback.test:{sink.port}")
        finally:
            sink.stop()
        tried = doc["Server"]["Tried"]
        print(f"\n  two-loopback.test: Tried {tried}, {elapsed:.2f} s", flush=True)
        self.assertIs(doc["Success"], True, json.dumps(doc, indent=1))
        self.assertLess(elapsed, 1.0, tried)
        self.assertIn({"Address": "127.0.0.1", "Outcome": "connected"}, tried)


class Cache(unittest.TestCase):
    """e. Two tests in one serve process for the same name: the second is answered from the
    cache (Server.Dns.Cached, no new query at the stand-in); with smtp.dns_cache_entries=0
    every test asks again."""

    def twice(self, host, *settings):
        sink = SmtpSink()
        try:
            with serve(*settings) as server:
                docs, counts = [], [DNS.count(host)]
                for _ in range(2):
                    status, doc, _ = post(server, DIAGNOSE, f"smtp://{host}:{sink.port}")
                    self.assertEqual(status, 200)
                    self.assertIs(doc["Success"], True, json.dumps(doc, indent=1))
                    docs.append(doc)
                    counts.append(DNS.count(host))
        finally:
            sink.stop()
        return docs, counts

    def test_second_lookup_is_cached(self):
        docs, counts = self.twice("cached.test")
        self.assertGreater(counts[1], counts[0], "the first test did not ask the DNS server")
        self.assertEqual(counts[2], counts[1], f"queries at the stand-in: {counts}")
        self.assertIs(docs[0]["Server"]["Dns"]["Cached"], False, docs[0]["Server"])
        self.assertIs(docs[1]["Server"]["Dns"]["Cached"], True, docs[1]["Server"])

    def test_cache_off_asks_every_time(self):
        docs, counts = self.twice("uncached.test", "smtp.dns_cache_entries=0")
        self.assertGreater(counts[1], counts[0])
        self.assertGreater(counts[2], counts[1], f"queries at the stand-in: {counts}")
        self.assertIs(docs[1]["Server"]["Dns"]["Cached"], False, docs[1]["Server"])


class ManyRecords(unittest.TestCase):
    """f. 100 A records (too many for UDP: the answer comes over TCP): 16 are tried, the next
    16 listed as not tried, then how many more (as test_abuse.py ManyAddresses, via DNS)."""

    def test_at_most_16_of_100_tried(self):
        rc, doc, elapsed = probe(f"smtp://many.test:{CLOSED_PORT}")
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_CONNECT_FAILED", json.dumps(doc, indent=1))
        tried = doc["Server"]["Tried"]
        used = [t for t in tried if not t["Outcome"].startswith("not tried")]
        listed = [t for t in tried if t["Outcome"] == "not tried: more than 16 addresses"]
        self.assertEqual(len(used), 16, tried)
        self.assertTrue(all(t["Outcome"] == "connect refused" for t in used), used)
        self.assertEqual(len(listed), 16, tried)
        self.assertEqual(tried[-1]["Outcome"], "not tried: 68 more addresses", tried)
        self.assertEqual(len(tried), 33)


class Suggestions(unittest.TestCase):
    """g. Issue 15: after a failure other settings may fix, the From domain's SRV records
    (RFC 8314 _submissions._tcp, RFC 6186 _submission._tcp) and its MX give settings to try,
    only from DNS answers; `probe --suggest` tries them. The lookups count against the test's
    deadline: a silent DNS server does not hold the answer back."""

    def probe_from(self, sender, uri, *args, timeout=30):
        cmd = [SMTPCHECK, "probe", uri, "--from", sender, "--json", *args]
        for s in LOOPBACK:
            cmd += ["--set", s]
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return out.returncode, json.loads(out.stdout), time.monotonic() - t0

    def test_srv_records_are_suggested_and_the_one_that_answers_works(self):
        sink = SmtpSink()
        DNS.set("mail.srv.test", ["127.0.0.1"])
        DNS.set("_submission._tcp.srv.test", {"srv": [(10, 1, sink.port, "mail.srv.test"), (20, 1, CLOSED_PORT, "mail.srv.test")]})
        DNS.set("_submissions._tcp.srv.test", {"srv": [(0, 0, 0, ".")]})  # "not offered" (RFC 2782)
        try:
            rc, doc, _ = self.probe_from("jane@srv.test", f"smtp://gone.test:{sink.port}", "--suggest")
        finally:
            sink.stop()
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_DNS_FAILED", json.dumps(doc, indent=1))
        self.assertEqual([s["SmtpUri"] for s in doc["Suggestions"]],
                         [f"smtp+starttls://mail.srv.test:{sink.port}", f"smtp+starttls://mail.srv.test:{CLOSED_PORT}"])
        self.assertIn("srv.test", doc["Suggestions"][0]["Why"])
        self.assertIn("_submission._tcp", doc["Suggestions"][0]["Why"])
        # smtp-sink offers no STARTTLS: the suggestion's own test says so; the closed port refuses.
        self.assertEqual([(s["Works"], s["ErrorCode"]) for s in doc["Suggestions"]],
                         [(False, "SR_SMTP_TLS_UNAVAILABLE"), (False, "SR_SMTP_CONNECT_FAILED")])

    def test_a_working_suggestion_says_it_works(self):
        pki = Pki()
        server = Aiosmtpd(tls=pki.context(pki.server("works", sans=("mail.works.test",), ips=())))
        DNS.set("mail.works.test", ["127.0.0.1"])
        DNS.set("_submission._tcp.works.test", {"srv": [(0, 1, server.port, "mail.works.test")]})
        try:
            out = subprocess.run([SMTPCHECK, "probe", f"smtp://127.0.0.1:{CLOSED_PORT}", "--from", "jane@works.test",
                                  "--suggest", "--ca-file", pki.ca_file] + sum((["--set", s] for s in LOOPBACK), []),
                                 capture_output=True, text=True, timeout=30)
        finally:
            server.stop()
            pki.close()
        self.assertIn(f"TRY     smtp+starttls://mail.works.test:{server.port}: ", out.stdout)
        self.assertIn(f"TRIED   smtp+starttls://mail.works.test:{server.port}: works", out.stdout)

    def test_the_mx_providers_submission_server(self):
        DNS.set("works2.test", {"mx": [(10, "works2-test.mail.protection.outlook.com")]})
        # the provider's submission server is not reachable from the namespace: suggested, not tried
        rc, doc, _ = self.probe_from("jane@works2.test", f"smtp://127.0.0.1:{CLOSED_PORT}")
        self.assertEqual([s["SmtpUri"] for s in doc["Suggestions"]], ["smtp+starttls://smtp.office365.com:587"])
        self.assertIn("Microsoft 365", doc["Suggestions"][0]["Why"])
        self.assertIn("works2-test.mail.protection.outlook.com", doc["Suggestions"][0]["Why"])

    def test_the_mx_provider_through_diagnose_in_the_callers_language(self):
        DNS.set("mxprov.test", {"mx": [(5, "aspmx.l.google.com"), (10, "alt1.aspmx.l.google.com")]})
        with serve() as s:
            auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=15)
            conn.request("POST", DIAGNOSE, body=json.dumps({"SmtpUri": f"smtp://127.0.0.1:{CLOSED_PORT}",
                                                            "From": "jane@mxprov.test"}),
                         headers={"Authorization": "Basic " + auth, "Content-Type": "application/json",
                                  "SO-Language": "de"})
            resp = conn.getresponse()
            status, doc = resp.status, json.loads(resp.read())
            conn.close()
        self.assertEqual(status, 200, doc)
        self.assertEqual([x["SmtpUri"] for x in doc["Suggestions"]], ["smtp+starttls://smtp.gmail.com:587"])
        self.assertIn("Google", doc["Suggestions"][0]["Why"])
        self.assertNotIn("handled by", doc["Suggestions"][0]["Why"])  # German words

    def test_no_answer_no_suggestion_and_auth_failures_ask_nothing(self):
        before = DNS.count("_submission._tcp.gone.test")
        rc, doc, _ = self.probe_from("jane@gone.test", f"smtp://127.0.0.1:{CLOSED_PORT}")
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_CONNECT_FAILED")
        self.assertEqual(doc["Suggestions"], [])
        self.assertGreater(DNS.count("_submission._tcp.gone.test"), before)  # it did ask
        sink = SmtpSink()  # a test that reaches the server does not look anything up
        try:
            before = DNS.count("_submission._tcp.reached.test")
            rc, doc, _ = self.probe_from("jane@reached.test", f"smtp://mx.test:{sink.port}")
        finally:
            sink.stop()
        self.assertIs(doc["Success"], True)
        self.assertEqual(DNS.count("_submission._tcp.reached.test"), before)

    def test_silent_dns_for_the_suggestions_stays_within_the_deadline(self):
        before = DNS.count("_submission._tcp.x.silent.test")
        rc, doc, elapsed = self.probe_from("jane@x.silent.test", f"smtp://127.0.0.1:{CLOSED_PORT}", "--timeout-ms", "1500")
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_CONNECT_FAILED")
        self.assertEqual(doc["Suggestions"], [])
        self.assertGreater(DNS.count("_submission._tcp.x.silent.test"), before)  # asked, never answered
        self.assertGreater(elapsed, 1.2, "the wait for the answers ended before the deadline")
        self.assertLess(elapsed, 3.0, f"probe took {elapsed:.2f} s with a 1.5 s deadline")

    def test_the_password_goes_only_to_hosts_in_the_domain(self):
        """RFC 6186 section 6: an SRV target outside the From's (or the tested host's) domain is
        tried without the URI's user and password."""
        pki = Pki()
        server = Aiosmtpd(tls=pki.context(pki.server("cred", sans=("mail.cred.test", "relay.elsewhere.test"), ips=())))
        DNS.set("mail.cred.test", ["127.0.0.1"])
        DNS.set("relay.elsewhere.test", ["127.0.0.1"])
        DNS.set("_submission._tcp.cred.test", {"srv": [(10, 1, server.port, "mail.cred.test"),
                                                       (20, 1, server.port, "relay.elsewhere.test")]})
        try:
            rc, doc, _ = self.probe_from("jane@cred.test", f"smtp://demo:demo@127.0.0.1:{CLOSED_PORT}", "--suggest",
                                         "--ca-file", pki.ca_file)
        finally:
            server.stop()
            pki.close()
        self.assertEqual([(s["SmtpUri"], s["WithCredentials"], s["Works"]) for s in doc["Suggestions"]],
                         [(f"smtp+starttls://mail.cred.test:{server.port}", True, True),
                          (f"smtp+starttls://relay.elsewhere.test:{server.port}", False, True)],
                         json.dumps(doc, indent=1))
        self.assertEqual(server.handler.authenticated, [True, False])

    def test_provider_greetings_are_no_name_mismatch(self):
        """The ICANN part of the Public Suffix List: us-east-1.amazonaws.com is a private suffix,
        so email-smtp.us-east-1.amazonaws.com and email-smtp.amazonaws.com share amazonaws.com;
        "220 SG ..." names no host."""
        DNS.set("email-smtp.us-east-1.amazonaws.com", ["127.0.0.1"])
        for greeting_name, warned in (("email-smtp.amazonaws.com", False), ("SG", False), ("mail.example.net", True)):
            server = Aiosmtpd(auth=False, server_hostname=greeting_name)
            try:
                rc, doc, _ = self.probe_from("jane@example.com", f"smtp://email-smtp.us-east-1.amazonaws.com:{server.port}")
            finally:
                server.stop()
            with self.subTest(greeting_name):
                self.assertIs(doc["Success"], True, json.dumps(doc, indent=1))
                codes = [w["Code"] for w in doc["Warnings"]]
                self.assertEqual("W_GREETING_NAME_MISMATCH" in codes, warned, codes)


if __name__ == "__main__":
    unittest.main()
