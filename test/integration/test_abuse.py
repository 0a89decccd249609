"""The abuse suite (SPEC 2, 3, 7): hostile callers and hostile SMTP servers against the real
`smtpcheck serve` on 127.0.0.1. Each test checks what the caller (or the SMTP peer) sees and
that the server still serves a normal request afterwards."""

import base64
import concurrent.futures
import http.client
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time
import unittest
import xml.etree.ElementTree as ET

from harness import SMTPCHECK, Server, curl, curl_bytes, free_port, hash_of
from smtp_peers import Aiosmtpd, Pki

U = "/api/v1/Agents/CustomerService/TestSmtpServer"
DIAGNOSE = "/api/v1/smtpcheck/Diagnose"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
LOOPBACK = ("smtp.allow_private_destinations=true", "smtp.allowed_ports=*")
DEMO_SMTP_PORT = 2525

def curl_raw(url, *args, method=None, data=None, headers=(), timeout=15):
    """Like harness.curl, but the body is left as bytes (to decode it strictly)."""
    return curl_bytes(url, *args, method=method, data=data, headers=headers, timeout=timeout)


def vm_kib(pid, field):
    """VmRSS / VmHWM of a process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no obstacle to a listener
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


# ---------------------------------------------------------------------------------------------
# SMTP peers the stock ones in smtp_peers cannot play: each connection runs a handler in a thread.

class Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.buf = b""
        self.tls = False  # set after a TLS handshake: lines are then kept in peer.tls_lines

    def line(self):
        """One line from the client (without CRLF), or None when it went away."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return None
            if not chunk:
                return None
            self.peer.record(chunk)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        line = line.rstrip(b"\r")
        if self.tls:
            self.peer.tls_lines.append(line)
        return line

    def send(self, data):
        self.sock.sendall(data)

    def drain(self, timeout=15):
        """Reads (and records) until the client closes or timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return
                self.peer.record(chunk)
        except OSError:
            return


class Peer:
    """A TCP server on 127.0.0.1 running `handler(conn)` per connection; keeps every byte it
    received and counts connections."""

    def __init__(self, handler):
        self.handler = handler
        self.connections = 0
        self.received = b""
        self.tls_lines = []  # lines read after a TLS handshake (STARTTLS peer)
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def record(self, chunk):
        with self._lock:
            self.received += chunk

    def _serve(self):
        while True:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(sock,), daemon=True).start()

    def _run(self, sock):
        sock.settimeout(20)
        conn = Conn(sock, self)
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.sock.close()  # the TLS socket when the handler wrapped it
            sock.close()

    def stop(self):
        self.sock.close()


def friendly_dialog(conn, greeting=b"220 peer ESMTP\r\n", ehlo=b"250-peer\r\n250 8BITMIME\r\n", delay=0.0):
    """A plain, accepting SMTP dialog; `delay` seconds before each reply to a command; no
    greeting when `greeting` is None (the dialog goes on after STARTTLS)."""
    if greeting is not None:
        conn.send(greeting)
    while True:
        line = conn.line()
        if line is None:
            return
        verb = line[:4].upper()
        if delay:
            time.sleep(delay)
        if verb in (b"EHLO", b"HELO"):
            conn.send(ehlo)
        elif verb == b"DATA":
            conn.send(b"354 go ahead\r\n")
            while True:
                body = conn.line()
                if body is None:
                    return
                if body == b".":
                    break
            conn.send(b"250 2.0.0 queued\r\n")
        elif verb == b"QUIT":
            conn.send(b"221 bye\r\n")
            return
        else:
            conn.send(b"250 ok\r\n")


# ---------------------------------------------------------------------------------------------

class ServerCase(unittest.TestCase):
    """One server shared by the tests of a class (restarted if a test brought it down), a
    friendly aiosmtpd (plaintext, no AUTH) for the "still serves" check."""

    SETTINGS = ()

    @classmethod
    def setUpClass(cls):
        cls.pki = Pki()
        cls.friend = Aiosmtpd(auth=False)
        cls.settings = [f"users.alice={hash_of('pw')}", f"smtp.ca_file={cls.pki.ca_file}", *LOOPBACK,
                        *cls.SETTINGS]
        cls.server = Server(*cls.settings)

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()
        cls.friend.stop()
        cls.pki.close()

    def setUp(self):
        if self.server.proc.poll() is not None:  # an earlier test killed it: do not fail every later one
            type(self).server.__exit__()
            type(self).server = Server(*self.settings)

    def post(self, body, content_type="application/json", headers=(), path=U, timeout=15):
        hdrs = [f"Content-Type: {content_type}"] if content_type else []
        return curl(self.server.url + path, "-u", "alice:pw", method="POST", data=body,
                    headers=hdrs + list(headers), timeout=timeout)

    def run_test(self, uri, sender="jane@example.com", headers=(), path=U, timeout=15):
        r = self.post(json.dumps({"SmtpUri": uri, "From": sender}), headers=headers, path=path, timeout=timeout)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def assert_serving(self, server=None):
        """/healthz answers 200 and a normal test against the friendly peer succeeds."""
        server = server or self.server
        self.assertIsNone(server.proc.poll(), "the server died:\n" + server.log()[-3000:])
        self.assertEqual(curl(server.url + "/healthz", timeout=5).status, 200)
        before = len(self.friend.handler.messages)
        r = curl(server.url + U, "-u", "alice:pw", method="POST", timeout=15,
                 data=json.dumps({"SmtpUri": f"smtp://127.0.0.1:{self.friend.port}", "From": "jane@example.com"}),
                 headers=["Content-Type: application/json"])
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["Success"], True, r.body)
        self.assertEqual(len(self.friend.handler.messages), before + 1)


class SmtpInjection(ServerCase):
    """1. Nothing a caller writes in SmtpUri or From reaches the SMTP wire as a command."""

    def test_crlf_in_the_ehlo_name_of_the_uri_is_refused(self):
        peer = Peer(friendly_dialog)
        try:
            uri = (f"smtp://127.0.0.1:{peer.port}/"
                   "%5BIPv6:::1%25%0D%0ARCPT%20TO:%3Cvictim@example.com%3E%5D")
            doc = self.run_test(uri)
            self.assertIs(doc["Success"], False)
            self.assertRegex(doc["ErrorMessage"], r"(?i)SMTP ?URI")
            raw = self.run_test(uri, headers=["SO-Language: x"])
            self.assertIs(raw["Success"], False)
            self.assertTrue(raw["ErrorMessage"].startswith("[SR_SMTP_URI_INVALID]"), raw["ErrorMessage"])
            time.sleep(0.2)
            self.assertNotIn(b"victim", peer.received.lower())
        finally:
            peer.stop()
        self.assert_serving()

    def test_an_address_literal_in_from_cannot_add_mail_parameters(self):
        peer = Peer(friendly_dialog)
        try:
            sender = "a@[IPv6:::1%> SIZE=1 RET=FULL]"
            doc = self.run_test(f"smtp://127.0.0.1:{peer.port}", sender=sender)
            self.assertIs(doc["Success"], False)
            self.assertIn("From address is not valid", doc["ErrorMessage"])
            raw = self.run_test(f"smtp://127.0.0.1:{peer.port}", sender=sender, headers=["SO-Language: x"])
            self.assertTrue(raw["ErrorMessage"].startswith("[SR_SMTP_FROM_INVALID]"), raw["ErrorMessage"])
            time.sleep(0.2)
            self.assertNotIn(b"SIZE=1", peer.received.upper())
            self.assertNotIn(b"RET=FULL", peer.received.upper())
        finally:
            peer.stop()
        self.assert_serving()


class HostileBodies(ServerCase):
    """2-4. Request bodies built to exhaust memory, overflow an index or nest deeply: 400."""

    def assert_400(self, r):
        self.assertEqual(r.status, 400, r.body[:300])
        self.assertEqual(r.json()["ErrorType"], "BadRequest")

    def test_a_json_patch_that_doubles_the_document_40_times_is_refused_in_bounded_memory(self):
        ops = [{"op": "copy", "from": "", "path": f"/k{i}"} for i in range(40)]
        with Server(*self.settings) as s:
            pid = s.proc.pid
            # Growth over a warmed-up server, not an absolute figure: under AddressSanitizer
            # (scripts/sanitize asan) the process is a few hundred MB before any request, and
            # its first authenticated request (threads, caches) adds more than 100 MB.
            warm = curl(s.url + U, "-u", "alice:pw", method="POST", timeout=10,
                        data=json.dumps([{"op": "replace", "path": "/From", "value": "x"}]),
                        headers=["Content-Type: application/json-patch+json"])
            self.assertEqual(warm.status, 200, warm.body)
            baseline = vm_kib(pid, "VmHWM")
            peak = [0]
            done = threading.Event()

            def watchdog():  # never let a broken build eat the machine
                while not done.wait(0.02):
                    rss = vm_kib(pid, "VmRSS")
                    peak[0] = max(peak[0], rss)
                    if rss > baseline + 1024 * 1024:
                        s.proc.kill()
                        return

            t = threading.Thread(target=watchdog, daemon=True)
            t.start()
            started = time.monotonic()
            try:
                r = curl(s.url + U, "-u", "alice:pw", method="POST", data=json.dumps(ops), timeout=10,
                         headers=["Content-Type: application/json-patch+json"])
            except RuntimeError as e:
                done.set()
                self.fail(f"no answer (peak RSS {peak[0] // 1024} MB, server alive: {s.proc.poll() is None}): {e}")
            elapsed = time.monotonic() - started
            done.set()
            t.join()
            self.assert_400(r)
            self.assertLess(elapsed, 5.0)
            hwm = max(vm_kib(pid, "VmHWM"), peak[0])
            self.assertLess(hwm - baseline, 100 * 1024, f"peak RSS {hwm // 1024} MB, {baseline // 1024} MB idle")
            self.assert_serving(s)
        self.assert_serving()

    def test_a_patch_index_too_large_for_any_array_is_400(self):
        for index in ("99999999999999999999", "18446744073709551616", "4294967297", "9223372036854775808"):
            with self.subTest(index=index):
                body = json.dumps([{"op": "add", "path": "/a", "value": [1]},
                                   {"op": "add", "path": f"/a/{index}", "value": 2}])
                self.assert_400(self.post(body, "application/json-patch+json"))
        self.assert_serving()

    def test_deep_xml_with_a_tag_like_attribute_value_is_400(self):
        body = '<a x="/>">' * 100 + "</a>" * 100
        self.assert_400(self.post(body, "application/xml"))
        self.assert_serving()

    def test_deep_json_is_400(self):
        for body in ('{"a":' * 100 + "1" + "}" * 100, "[" * 100 + "]" * 100,
                     '{"SmtpUri":' + '{"a":' * 99 + "1" + "}" * 100):
            with self.subTest(body=body[:12]):
                self.assert_400(self.post(body, "application/json"))
        self.assert_serving()

    def test_a_doctype_anywhere_in_the_document_is_400(self):
        entity = '<!DOCTYPE r [<!ENTITY e "x">]>'
        bodies = {
            "after text inside the root": f"<r>text{entity}<SmtpUri>smtp://h</SmtpUri><From>&e;</From></r>",
            "inside the root before a child": f"<r>{entity}<From>j@example.com</From></r>",
            "after a long comment prefix": '<?xml version="1.0"?><!--' + "x" * 8000 + "-->" + entity + "<r><From>&e;</From></r>",
            "after many processing instructions": '<?xml version="1.0"?>' + "<?pi x?>" * 1000 + entity + "<r/>",
            "after the root": "<r><From>j@example.com</From></r>" + entity,
        }
        for name, body in bodies.items():
            with self.subTest(name):
                self.assert_400(self.post(body, "application/xml"))
        self.assert_serving()


class HostileSmtpServers(ServerCase):
    """7, 10. SMTP servers that send what no server should; the default 5 s deadline."""

    def assert_code(self, doc, code):
        self.assertIs(doc["Success"], False, f"expected [{code}], got {json.dumps(doc)[:300]}")
        self.assertTrue(doc["ErrorMessage"].startswith(f"[{code}]"), doc["ErrorMessage"][:300])

    def test_control_characters_and_invalid_utf8_from_the_server_never_reach_the_caller(self):
        def hostile(conn):
            conn.send(b"554 bad\x1b[31m\x07 \xff\xfe text\r\n")
            conn.drain(10)

        peer = Peer(hostile)
        try:
            body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{peer.port}", "From": "jane@example.com"})
            for lang in ("en", "x"):
                with self.subTest(format="json", lang=lang):
                    status, _, raw = curl_raw(self.server.url + U, "-u", "alice:pw", method="POST", data=body,
                                              headers=["Content-Type: application/json", f"SO-Language: {lang}"])
                    self.assertEqual(status, 200)
                    doc = json.loads(raw.decode("utf-8", "strict"))
                    self.assertIs(doc["Success"], False)
                    self.assertTrue(doc["ErrorMessage"])
                    self.assertIsNone(CONTROL.search(doc["ErrorMessage"]), repr(doc["ErrorMessage"]))
            with self.subTest(format="xml"):
                status, _, raw = curl_raw(self.server.url + U, "-u", "alice:pw", method="POST", data=body,
                                          headers=["Content-Type: application/json", "Accept: application/xml",
                                                   "SO-Language: x"])
                self.assertEqual(status, 200)
                root = ET.fromstring(raw)  # control characters are not XML: a parse error here
                message = root.find("ErrorMessage").text or ""
                self.assertIsNone(CONTROL.search(message), repr(message))
            with self.subTest(route="Diagnose"):
                status, _, raw = curl_raw(self.server.url + DIAGNOSE, "-u", "alice:pw", method="POST", data=body,
                                          headers=["Content-Type: application/json"])
                self.assertEqual(status, 200)
                doc = json.loads(raw.decode("utf-8", "strict"))
                self.assertTrue(doc["Transcript"])
                for item in doc["Transcript"]:
                    self.assertIsNone(CONTROL.search(item["Line"]), repr(item["Line"]))
                self.assertIsNone(CONTROL.search(doc.get("ErrorMessage") or ""), repr(doc.get("ErrorMessage")))
        finally:
            peer.stop()
        self.assert_serving()

    def test_an_endless_multiline_reply_is_a_protocol_error_at_once(self):
        def endless(conn):
            conn.send(b"220 endless ESMTP\r\n")
            if conn.line() is None:
                return
            chunk = b"250-x\r\n" * 2000
            until = time.monotonic() + 15
            while time.monotonic() < until:
                conn.send(chunk)  # raises once the client has gone

        peer = Peer(endless)
        try:
            started = time.monotonic()
            doc = self.run_test(f"smtp://127.0.0.1:{peer.port}", headers=["SO-Language: x"])
            self.assertLess(time.monotonic() - started, 3.0)
            self.assert_code(doc, "SR_SMTP_PROTOCOL_ERROR")
        finally:
            peer.stop()
        self.assert_serving()

    def test_a_megabyte_greeting_without_crlf_is_a_protocol_error(self):
        def huge(conn):
            conn.send(b"220 " + b"x" * (1 << 20))
            conn.drain(10)

        peer = Peer(huge)
        try:
            started = time.monotonic()
            doc = self.run_test(f"smtp://127.0.0.1:{peer.port}", headers=["SO-Language: x"])
            self.assertLess(time.monotonic() - started, 4.0)
            self.assert_code(doc, "SR_SMTP_PROTOCOL_ERROR")
            self.assertLess(len(doc["ErrorMessage"]), 8192)
        finally:
            peer.stop()
        self.assert_serving()

    def test_plaintext_injected_after_starttls_is_dropped_not_read_as_a_reply(self):
        # SPEC 3.2: anything buffered before the handshake is dropped (the STARTTLS injection
        # of CVE-2011-0411). Read as the reply to the second EHLO, the injected line would shift
        # every later reply by one and DATA would get RCPT's 250 instead of 354.
        tls = self.pki.context(self.pki.server("starttls"))

        def injector(conn):
            conn.send(b"220 injector ESMTP\r\n")
            while True:
                line = conn.line()
                if line is None:
                    return
                verb = line[:8].upper()
                if verb.startswith((b"EHLO", b"HELO")):
                    conn.send(b"250-injector\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
                elif verb == b"STARTTLS":
                    conn.send(b"220 go ahead\r\n250 injected\r\n")  # one write: both lines arrive together
                    break
                else:
                    conn.send(b"503 bad sequence\r\n")
            try:  # a client that went on regardless gets a working TLS session, so it shows
                conn.sock.settimeout(6)
                conn.sock = tls.wrap_socket(conn.sock, server_side=True)
            except (OSError, ValueError):
                return
            conn.buf = b""
            conn.tls = True
            friendly_dialog(conn, greeting=None, ehlo=b"250-injector\r\n250 8BITMIME\r\n")

        peer = Peer(injector)
        try:
            doc = self.run_test(f"smtp://127.0.0.1:{peer.port}", headers=["SO-Language: x"])
            self.assertIs(doc["Success"], True, doc)
            verbs = [l.split(b" ")[0].split(b":")[0].upper() for l in peer.tls_lines]
            self.assertEqual(verbs[:1], [b"EHLO"], peer.tls_lines)
            self.assertIn(b"DATA", verbs, peer.tls_lines)
        finally:
            peer.stop()
        self.assert_serving()

    def test_a_server_slow_on_every_reply_hits_the_whole_test_deadline(self):
        peer = Peer(lambda conn: friendly_dialog(conn, delay=4.9))
        try:
            started = time.monotonic()
            doc = self.run_test(f"smtp://127.0.0.1:{peer.port}", headers=["SO-Language: x"], timeout=12)
            elapsed = time.monotonic() - started
            self.assert_code(doc, "SR_SMTP_TIMEOUT")
            self.assertGreater(elapsed, 4.5)
            self.assertLess(elapsed, 7.5)
        finally:
            peer.stop()
        self.assert_serving()


class FailedLoginFlood(unittest.TestCase):
    """5. A failed login counts from the moment it is attempted: a concurrent flood gets at most
    the limit of 401s, then 429 with Retry-After, for the right password too."""

    def test_300_concurrent_bad_passwords_get_at_most_20_401s(self):
        with Server(f"users.alice={hash_of('pw')}", "auth.failed_logins_per_minute=20") as s:
            def attempt(i):
                # Each a different guess: requests repeating one guess share its verification
                # and count once.
                bad = "Basic " + base64.b64encode(f"alice:wrong{i}".encode()).decode()
                c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
                try:
                    c.request("GET", U, headers={"Authorization": bad})
                    r = c.getresponse()
                    r.read()
                    return r.status, r.getheader("Retry-After")
                finally:
                    c.close()

            with concurrent.futures.ThreadPoolExecutor(50) as pool:
                results = list(pool.map(attempt, range(300)))
            statuses = [st for st, _ in results]
            self.assertEqual(set(statuses) - {401, 429}, set(), statuses)
            self.assertLessEqual(statuses.count(401), 20, f"{statuses.count(401)} x 401")
            self.assertGreaterEqual(statuses.count(429), 280)
            for st, retry in results:
                if st == 429:
                    self.assertIsNotNone(retry)
                    self.assertTrue(1 <= int(retry) <= 61, retry)
            right = curl(s.url + U, "-u", "alice:pw")
            self.assertEqual(right.status, 429)
            self.assertTrue(right.header("retry-after"))
            self.assertEqual(curl(s.url + "/healthz").status, 200)
            self.assertIsNone(s.proc.poll())


class LogInjection(ServerCase):
    """8. A user name with CR LF cannot forge a log line."""

    def test_a_crlf_user_name_is_escaped_in_the_log(self):
        token = base64.b64encode(b"eve\r\nINFO forged line:pw").decode()
        r = curl(self.server.url + U, headers=[f"Authorization: Basic {token}", "X-Request-Id: log-injection-1"])
        self.assertEqual(r.status, 401)
        self.assertTrue(self.server.wait_for_log("log-injection-1"))
        time.sleep(0.2)
        lines = re.split(r"\r\n|\r|\n", self.server.log())
        self.assertFalse([l for l in lines if l.lstrip().startswith("INFO forged line")],
                         "a forged log line:\n" + self.server.log()[-2000:])
        self.assert_serving()


class Slowloris(ServerCase):
    """9. 150 connections trickling a header byte per second neither starve others nor stay open
    past server.header_timeout_ms."""

    SETTINGS = ("server.header_timeout_ms=2000",)

    def test_slow_headers_are_cut_and_others_are_served_meanwhile(self):
        socks = []
        stop = threading.Event()
        try:
            opened = time.monotonic()
            for _ in range(150):
                c = socket.create_connection(("127.0.0.1", self.server.port), timeout=2)
                c.sendall(f"POST {U} HTTP/1.1\r\nHost: x\r\n".encode())
                socks.append(c)

            def trickle():
                header = b"X-Slow: " + b"a" * 100
                i = 0
                while not stop.wait(1.0):
                    for c in socks:
                        try:
                            c.send(header[i % len(header):i % len(header) + 1])
                        except OSError:
                            pass
                    i += 1

            threading.Thread(target=trickle, daemon=True).start()
            for n in range(20):
                started = time.monotonic()
                r = curl(self.server.url + "/healthz", timeout=3)
                took = time.monotonic() - started
                self.assertEqual(r.status, 200)
                self.assertLess(took, 1.0, f"request {n} took {took:.2f} s")

            sel = selectors.DefaultSelector()
            for c in socks:
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, b"")
            got = {}
            deadline = opened + 5.5
            while sel.get_map() and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
                    c = key.fileobj
                    try:
                        chunk = c.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if chunk:
                        got[c] = got.get(c, b"") + chunk
                    else:
                        sel.unregister(c)
            still_open = len(sel.get_map())
            sel.close()
            self.assertEqual(still_open, 0, f"{still_open} slow connections still open "
                                            f"{time.monotonic() - opened:.1f} s after they were opened")
            # A deadline closes the connection without an answer (there is no 408).
            self.assertEqual(got, {})
        finally:
            stop.set()
            for c in socks:
                c.close()
        self.assert_serving()


class KeptAliveSlowloris(ServerCase):
    """10. On a kept-alive connection the next header is due within server.idle_timeout_ms of
    the previous response, however late its first byte came (SPEC 4): a client that sent its
    first byte just before the idle deadline had a whole header_timeout more to dribble in."""

    SETTINGS = ("server.idle_timeout_ms=2000", "server.header_timeout_ms=10000")

    def test_a_header_started_late_still_ends_with_the_idle_window(self):
        c = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            first = c.recv(65536)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:100])
            answered = time.monotonic()
            time.sleep(1.5)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            closed_at = None
            for _ in range(40):  # one header byte every 0.2 s, for up to 8 s
                try:
                    c.sendall(b"X")
                except OSError:
                    closed_at = time.monotonic()
                    break
                c.settimeout(0.2)
                try:
                    data = c.recv(65536)
                    if not data:
                        closed_at = time.monotonic()
                        break
                except socket.timeout:
                    pass
                except OSError:
                    closed_at = time.monotonic()
                    break
            self.assertIsNotNone(closed_at, "the dribbling connection was still open 9.5 s after the response")
            self.assertLess(closed_at - answered, 3.5, f"closed {closed_at - answered:.1f} s after the response")
        finally:
            c.close()
        self.assert_serving()


class Shutdown(unittest.TestCase):
    """10. A drain ends within server.shutdown_grace_ms (plus a second) even while a test waits on
    a silent SMTP server, and a second SIGTERM during the drain ends the process at once."""

    def start(self, grace_ms):
        self.silent = Peer(lambda conn: conn.drain(timeout=30))  # accepts, never greets
        server = Server(f"users.alice={hash_of('pw')}", *LOOPBACK, f"server.shutdown_grace_ms={grace_ms}",
                        "api.slow_threshold_ms=20000")
        body = json.dumps({"SmtpUri": f"smtp://127.0.0.1:{self.silent.port}", "From": "a@example.com"})
        threading.Thread(target=lambda: curl(server.url + U, "-u", "alice:pw", method="POST", data=body,
                                             headers=["Content-Type: application/json"], timeout=30),
                         daemon=True).start()
        deadline = time.monotonic() + 5
        while self.silent.connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.silent.connections, 1, "the test did not reach the silent server")
        return server

    def tearDown(self):
        self.silent.stop()

    def test_the_drain_ends_within_the_grace_period(self):
        server = self.start(1000)
        try:
            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(timeout=15)
            took = time.monotonic() - signalled
            self.assertLess(took, 3.0, f"the drain took {took:.1f} s with a grace of 1 s")
        finally:
            server.__exit__()

    def test_a_second_signal_during_the_drain_exits_at_once(self):
        server = self.start(20000)
        try:
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(server.proc.poll(), "the server did not drain")
            signalled = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(timeout=15)
            self.assertLess(time.monotonic() - signalled, 1.5)
            self.assertNotEqual(server.proc.returncode, 0)
        finally:
            server.__exit__()


class Demo(unittest.TestCase):
    """6. `serve --demo` adds a well-known user: it stays on loopback unless told otherwise, and
    its tests reach only its own SMTP server."""

    def setUp(self):
        if not port_is_free(DEMO_SMTP_PORT):
            self.skipTest(f"127.0.0.1:{DEMO_SMTP_PORT} is busy; the demo binds its SMTP server there")

    def test_demo_refuses_a_non_loopback_listener(self):
        port = free_port()
        proc = subprocess.Popen([SMTPCHECK, "serve", "--demo", "--set", f"server.listen=0.0.0.0:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()  # SIGTERM: it drains and removes its demo folder
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            self.fail("serve --demo started on 0.0.0.0")
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("loopback", stderr.lower())
        # It never got as far as the demo SMTP server, and left nothing behind.
        self.assertTrue(port_is_free(DEMO_SMTP_PORT))

    def test_demo_allow_remote_starts_on_a_non_loopback_listener(self):
        port = free_port()
        with _DemoProcess(["--demo", "--demo-allow-remote", "--set", f"server.listen=0.0.0.0:{port}"], port) as p:
            self.assertEqual(curl(f"http://127.0.0.1:{port}/healthz").status, 200)
            self.assertEqual(p.stop(), 0)

    def test_a_demo_test_reaches_its_own_smtp_server_and_nothing_else(self):
        with Server(options=("--demo",)) as s:
            def demo_test(uri, lang="en"):
                r = curl(s.url + U, "-u", "demo:demo", method="POST", timeout=15,
                         data=json.dumps({"SmtpUri": uri, "From": "demo@example.com"}),
                         headers=["Content-Type: application/json", f"SO-Language: {lang}"])
                self.assertEqual(r.status, 200, r.body)
                return r.json()

            ok = demo_test(f"smtp://demo:demo@127.0.0.1:{DEMO_SMTP_PORT}")
            self.assertIs(ok["Success"], True, ok)
            for uri in ("smtp://10.0.0.1:25", f"smtp://127.0.0.2:{DEMO_SMTP_PORT}"):
                with self.subTest(uri=uri):
                    started = time.monotonic()
                    doc = demo_test(uri, "x")
                    self.assertIs(doc["Success"], False)
                    self.assertTrue(doc["ErrorMessage"].startswith("[SR_SMTP_DESTINATION_BLOCKED]"),
                                    doc["ErrorMessage"])
                    self.assertLess(time.monotonic() - started, 2.0)  # refused, never tried
            self.assertEqual(curl(s.url + "/healthz").status, 200)
            again = demo_test(f"smtp://demo:demo@127.0.0.1:{DEMO_SMTP_PORT}")
            self.assertIs(again["Success"], True, again)
            self.assertEqual(s.stop(), 0)  # SIGTERM: it removes its demo folder

    def tearDown(self):
        # A failed demo test may leave a process killed before it could clean up; never a
        # listener on 2525 for the next test.
        deadline = time.monotonic() + 5
        while not port_is_free(DEMO_SMTP_PORT) and time.monotonic() < deadline:
            time.sleep(0.1)


class _DemoProcess:
    """`smtpcheck serve ARGS` whose listener is seen by connecting to 127.0.0.1:port."""

    def __init__(self, args, port):
        self.proc = subprocess.Popen([SMTPCHECK, "serve", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    if self.proc.poll() is None:
                        self.proc.kill()
                    self.proc.wait()
                    err = self.proc.stderr.read()
                    self.proc.stderr.close()
                    raise AssertionError("the demo did not start: " + err[-2000:])
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        return self.proc.wait(15)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


if __name__ == "__main__":
    unittest.main()


class ManyAddresses(unittest.TestCase):
    """10. A name that answers with many addresses: at most 16 are used, the next 16 listed as
    not tried, then only how many more. The name lives in an /etc/hosts of this test's own,
    bind-mounted in a mount namespace (unshare -m, as root, which CI is)."""

    def test_at_most_16_addresses_are_used(self):
        import json as _json
        import subprocess as _sp
        import tempfile as _tf
        with _tf.NamedTemporaryFile("w", suffix=".hosts", delete=False) as hosts:
            hosts.write("127.0.0.1 localhost\n")
            for i in range(1, 41):
                hosts.write(f"127.0.0.{i} many.test\n")
        try:
            script = ('mount --bind "$1" /etc/hosts && exec "$2" probe smtp://many.test:9 --from a@example.com --json '
                      '--set smtp.allow_private_destinations=true --set smtp.allowed_ports=*')
            args = ["sh", "-c", script, "sh", hosts.name, SMTPCHECK]
            out = _sp.run(["unshare", "-m", *args], capture_output=True, text=True, timeout=60)
            if "cannot change root filesystem propagation" in out.stderr:
                # In a chroot (../shared/tools/fresh-debian) "/" is no mount point, so unshare
                # cannot make the copies private. That is only needed where mounts propagate:
                # with no shared mount at all, a bind mount in the new namespace stays there.
                with open("/proc/self/mountinfo") as info:
                    shared = [line for line in info if " shared:" in line.split(" - ")[0]]
                self.assertFalse(shared, "cannot isolate /etc/hosts: shared mounts and no private namespace")
                out = _sp.run(["unshare", "-m", "--propagation", "unchanged", *args],
                              capture_output=True, text=True, timeout=60)
            self.assertTrue(out.stdout.strip(), out.stderr)
            doc = _json.loads(out.stdout)
        finally:
            os.unlink(hosts.name)
        self.assertEqual(doc["ErrorCode"], "SR_SMTP_CONNECT_FAILED", doc)
        tried = doc["Server"]["Tried"]
        used = [t for t in tried if not t["Outcome"].startswith("not tried")]
        listed = [t for t in tried if t["Outcome"] == "not tried: more than 16 addresses"]
        self.assertEqual(len(used), 16, tried)
        self.assertEqual(len(listed), 16, tried)
        self.assertEqual(tried[-1]["Outcome"], "not tried: 8 more addresses", tried)
