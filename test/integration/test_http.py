"""The HTTP front end of the real `smtpcheck serve`, as clients see it (SPEC 2.1, 2.7-2.9, 7)."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import RawClient, Server, curl, free_port

GET_HEALTH = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


class Routes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("server.base_path=/Cust12345")

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_healthz_answers_ok_with_the_common_headers(self):
        r = curl(self.server.url + "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, "ok")
        self.assertEqual(r.header("content-length"), "2")
        self.assertRegex(r.header("date"), r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$")
        self.assertTrue(r.header("x-request-id"))
        self.assertIsNone(r.header("connection"))

    def test_each_response_gets_its_own_request_id_unless_the_client_sent_a_sane_one(self):
        a = curl(self.server.url + "/healthz").header("x-request-id")
        b = curl(self.server.url + "/healthz").header("x-request-id")
        self.assertNotEqual(a, b)
        echoed = curl(self.server.url + "/healthz", headers=["X-Request-Id: trace-42.a_b:c"])
        self.assertEqual(echoed.header("x-request-id"), "trace-42.a_b:c")
        insane = curl(self.server.url + "/healthz", headers=["X-Request-Id: evil value<script>"])
        self.assertNotIn("evil", insane.header("x-request-id"))

    def test_readyz_answers_200_while_serving(self):
        r = curl(self.server.url + "/readyz")
        self.assertEqual((r.status, r.body), (200, "ready"))

    def test_paths_are_case_insensitive_with_one_trailing_slash(self):
        self.assertEqual(curl(self.server.url + "/HealthZ/").status, 200)
        self.assertEqual(curl(self.server.url + "/healthz//").status, 404)

    def test_unknown_paths_get_a_404_error_document(self):
        r = curl(self.server.url + "/api/v1/nothing")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.header("content-type"), "application/json; charset=utf-8")
        doc = r.json()
        self.assertEqual(list(doc), ["Error", "ErrorType", "ErrorMessage", "ErrorSource"])
        self.assertIs(doc["Error"], True)
        self.assertEqual(doc["ErrorType"], "NotFound")
        self.assertTrue(doc["ErrorMessage"])

    def test_root_routes_stay_at_the_root_when_base_path_is_set(self):
        self.assertEqual(curl(self.server.url + "/healthz").status, 200)
        self.assertEqual(curl(self.server.url + "/Cust12345/healthz").status, 404)

    def test_other_methods_get_405_with_allow(self):
        r = curl(self.server.url + "/healthz", method="DELETE")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")
        self.assertEqual(r.json()["ErrorType"], "MethodNotAllowed")

    def test_head_has_the_length_but_no_body(self):
        c = RawClient(self.server.port)
        c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + GET_HEALTH)
        while b"\r\n\r\n" not in c.buf:
            c._fill()
        block, _, c.buf = c.buf.partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 2", block)
        # No body follows: the next response starts right after the header block.
        nxt = c.read_response()
        self.assertEqual((nxt.status, nxt.body), (200, "ok"))
        c.close()


class KeepAliveAndPipelining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("server.idle_timeout_ms=400")

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_curl_reuses_one_connection_for_two_requests(self):
        out = subprocess.run(["curl", "-sv", self.server.url + "/healthz", self.server.url + "/readyz"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.stdout, "okready")
        self.assertIn("Re-using existing connection", out.stderr)

    def test_pipelined_requests_are_answered_in_order(self):
        c = RawClient(self.server.port)
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: one\r\n\r\n"
               b"GET /readyz HTTP/1.1\r\nHost: t\r\nX-Request-Id: two\r\n\r\n"
               b"GET /nope HTTP/1.1\r\nHost: t\r\nX-Request-Id: three\r\n\r\n")
        got = [c.read_response() for _ in range(3)]
        self.assertEqual([r.header("x-request-id") for r in got], ["one", "two", "three"])
        self.assertEqual([r.status for r in got], [200, 200, 404])
        c.close()

    def test_connection_close_is_honoured(self):
        c = RawClient(self.server.port)
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.header("connection"), "close")
        self.assertTrue(c.closed_by_server(2))

    def test_http_1_0_without_keep_alive_is_closed(self):
        c = RawClient(self.server.port)
        c.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(c.closed_by_server(2))

    def test_an_idle_keep_alive_connection_is_closed_after_idle_timeout(self):
        c = RawClient(self.server.port)
        c.send(GET_HEALTH)
        self.assertEqual(c.read_response().status, 200)
        started = time.monotonic()
        self.assertTrue(c.closed_by_server(5))
        self.assertGreater(time.monotonic() - started, 0.2)


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("server.header_limit=2048", "server.body_limit=1000",
                            "server.header_timeout_ms=600", "server.body_timeout_ms=600")

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_headers_over_the_limit_get_431_and_the_server_goes_on(self):
        r = curl(self.server.url + "/healthz", headers=["X-Big: " + "a" * 4000])
        self.assertEqual(r.status, 431)
        self.assertEqual(r.json()["ErrorType"], "RequestHeaderFieldsTooLarge")
        self.assertEqual(curl(self.server.url + "/healthz").status, 200)

    def test_a_body_over_the_limit_gets_413_before_it_is_sent(self):
        c = RawClient(self.server.port)
        c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        r = c.read_response()
        self.assertEqual(r.status, 413)
        self.assertEqual(r.json()["ErrorType"], "PayloadTooLarge")
        self.assertEqual(r.header("connection"), "close")
        c.close()

    def test_curl_sees_413_for_a_large_upload(self):
        r = curl(self.server.url + "/healthz", data="x" * 5000, headers=["Content-Type: text/plain"])
        self.assertEqual(r.status, 413)

    def test_a_slow_header_is_cut_at_the_deadline_while_others_are_served(self):
        slow = RawClient(self.server.port)
        started = time.monotonic()
        cut = threading.Event()

        def trickle():
            try:
                for ch in b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100:
                    slow.send(bytes([ch]))
                    time.sleep(0.05)
            except OSError:
                cut.set()

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        for _ in range(5):  # others are served meanwhile
            self.assertEqual(curl(self.server.url + "/healthz").status, 200)
        self.assertTrue(slow.closed_by_server(5))
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 4.0)  # the trickle alone would take about 7 s
        self.assertNotIn(b"200 OK", slow.buf)
        slow.close()

    def test_a_client_that_opens_and_says_nothing_is_closed(self):
        c = RawClient(self.server.port)
        self.assertTrue(c.closed_by_server(5))

    def test_a_body_that_stops_arriving_is_cut_at_the_body_deadline(self):
        c = RawClient(self.server.port)
        # A GET with a body: the route exists, so the body is read before the handler runs.
        c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        self.assertTrue(c.closed_by_server(5))
        self.assertNotIn(b"HTTP/1.1 200", c.buf)


class Smuggling(unittest.TestCase):
    """Requests that two parsers could frame differently: 400 and the connection closed."""

    SHAPES = {
        "content-length and transfer-encoding":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "transfer-encoding then content-length":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        "transfer-encoding not ending in chunked":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabcde",
        "chunked then gzip":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
        "gzip then content-length":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
        "duplicate equal content-length":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "differing content-length":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "content-length list":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc",
        "two transfer-encoding fields":
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    }

    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__()

    def test_each_shape_gets_400_and_the_connection_is_closed(self):
        for name, request in self.SHAPES.items():
            with self.subTest(name):
                c = RawClient(self.server.port)
                # A second request behind it must never be answered.
                c.send(request + GET_HEALTH)
                r = c.read_response()
                self.assertEqual(r.status, 400)
                self.assertEqual(r.json()["ErrorType"], "BadRequest")
                self.assertEqual(r.header("connection"), "close")
                self.assertTrue(c.closed_by_server(3))
                self.assertNotIn(b"HTTP/1.1", c.buf)
                c.close()
        self.assertEqual(curl(self.server.url + "/healthz").status, 200)

    def test_garbage_gets_400(self):
        c = RawClient(self.server.port)
        c.send(b"NOT HTTP AT ALL\r\n\r\n")
        self.assertEqual(c.read_response().status, 400)
        self.assertTrue(c.closed_by_server(3))


class ExpectContinue(unittest.TestCase):
    def test_a_refused_request_is_answered_at_once_without_100_continue(self):
        with Server() as server:
            c = RawClient(server.port)
            c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
            r = c.read_response()
            self.assertEqual(r.status, 405)
            self.assertNotIn(b"100 Continue", c.buf)
            self.assertEqual(r.header("connection"), "close")


class Transports(unittest.TestCase):
    def test_unix_socket_listener(self):
        path = tempfile.mktemp(prefix="smtpcheck-", suffix=".sock")
        with Server(listen=f"unix:{path}") as server:
            self.assertIn(f"unix:{path}", server.addresses)
            r = curl("http://localhost/healthz", "--unix-socket", path)
            self.assertEqual((r.status, r.body), (200, "ok"))
            self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))

    def test_ipv6_and_ipv4_listeners_together(self):
        try:
            with socket.socket(socket.AF_INET6) as probe:
                probe.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback on this machine")
        with Server(listen="127.0.0.1:0,[::1]:0") as server:
            v6 = [a for a in server.addresses if a.startswith("http://[::1]:")]
            self.assertEqual(len(v6), 1)
            self.assertEqual(curl(server.url + "/healthz").status, 200)
            self.assertEqual(curl(v6[0] + "/healthz", "-g").status, 200)

    def test_tls_listener(self):
        with tempfile.TemporaryDirectory() as d:
            key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           check=True, capture_output=True)
            with Server("server.tls_listen=127.0.0.1:0", f"server.tls_cert={cert}",
                        f"server.tls_key={key}") as server:
                https = [a for a in server.addresses if a.startswith("https://")][0]
                r = curl(https + "/healthz", "--cacert", cert)
                self.assertEqual((r.status, r.body), (200, "ok"))
                # TLS 1.2 is the floor: a client limited to TLS 1.1 is refused, the same
                # client at TLS 1.2 is served.
                port = https.rsplit(":", 1)[1]

                def handshake(version):
                    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", version,
                                           "-cipher", "DEFAULT:@SECLEVEL=0"],
                                          stdin=subprocess.DEVNULL, capture_output=True, timeout=10).returncode
                self.assertNotEqual(handshake("-tls1_1"), 0)
                self.assertEqual(handshake("-tls1_2"), 0)

    def test_a_listener_that_cannot_be_bound_fails_clearly(self):
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc = subprocess.run([os.environ.get("SMTPCHECK", "../../build/server/smtpcheck"), "serve",
                               "--set", f"server.listen=127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=10)
        blocker.close()
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot start", proc.stderr)


class Connections(unittest.TestCase):
    def test_max_connections_refuses_more_and_recovers(self):
        with Server("server.max_connections=2") as server:
            a, b = RawClient(server.port), RawClient(server.port)
            a.send(GET_HEALTH)
            b.send(GET_HEALTH)
            self.assertEqual(a.read_response().status, 200)
            self.assertEqual(b.read_response().status, 200)
            third = RawClient(server.port)
            self.assertTrue(third.closed_by_server(3))
            self.assertTrue(server.wait_for_log("max_connections"))
            a.close()
            time.sleep(0.2)
            self.assertEqual(curl(server.url + "/healthz").status, 200)

    def test_running_out_of_file_descriptors_does_not_stop_the_accept_loop(self):
        with Server(nofile=40) as server:
            clients = []
            for _ in range(60):
                try:
                    clients.append(RawClient(server.port, timeout=1))
                except OSError:
                    break
            self.assertTrue(server.wait_for_log(r"accept: .*retrying"))
            for c in clients:
                c.close()
            time.sleep(0.5)
            for _ in range(3):
                self.assertEqual(curl(server.url + "/healthz").status, 200)


class BurstOfConnections(unittest.TestCase):
    """Issue 17: a fresh server took new connections one accept per pass of its scheduler, so
    under load each new connection waited behind a pass over every busy one (wrk with 1,000
    connections on a fresh server: p99 1.2 s and timeouts; the listener's accept queue held
    ~300 for half a second). Here wrk (Debian's) opens 1,000 keep-alive connections at once on
    a fresh server and keeps them busy; a second wave of 300 connections opened at once while
    they are busy must each get its first answer within a generous 1 s, and no request of
    wrk's may take longer (its --timeout). With one thread and with two."""

    def second_wave(self, port, count=300, bound=1.0):
        """Opens `count` connections at once, sends GET /healthz on each as soon as it is
        connected; returns the seconds until each one's first answer (None: no answer)."""
        import selectors
        sel = selectors.DefaultSelector()
        started, answered = {}, {}
        for _ in range(count):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            sel.register(s, selectors.EVENT_WRITE)
        deadline = time.monotonic() + bound + 2
        while len(answered) < count and time.monotonic() < deadline:
            for key, events in sel.select(timeout=0.1):
                s = key.fileobj
                if events & selectors.EVENT_WRITE and s not in started:
                    started[s] = time.monotonic()
                    s.send(GET_HEALTH)
                    sel.modify(s, selectors.EVENT_READ)
                elif events & selectors.EVENT_READ and s not in answered:
                    answered[s] = time.monotonic() - started[s] if s.recv(4096) else None
                    sel.unregister(s)
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        for s in answered:
            s.close()
        return [answered.get(s) for s in started] + [None] * (count - len(started))

    def burst(self, threads):
        import resource
        import shutil
        wrk = shutil.which("wrk")
        self.assertIsNotNone(wrk, "wrk is missing (scripts/packages-test.txt)")
        limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
        with Server(f"server.threads={threads}", "log.access=false", nofile=4096) as server:
            load = subprocess.Popen([wrk, "-t1", "-c1000", "-d3s", "--timeout", "1s", server.url + "/healthz"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
            time.sleep(1)  # the 1,000 are connected and busy
            waits = self.second_wave(server.port)
            out, err = load.communicate(timeout=60)
        self.assertEqual(load.returncode, 0, err)
        late = [w for w in waits if w is None or w > 1.0]
        self.assertEqual(len(late), 0, f"{len(late)} of {len(waits)} new connections waited over 1 s; slowest "
                                   f"{max((w for w in waits if w is not None), default=None)}")
        # Requests over 1 s count as timeouts; a refused or reset connection as an error.
        self.assertNotIn("Socket errors", out, out)
        self.assertNotIn("Non-2xx", out)
        self.assertGreater(int(re.search(r"(\d+) requests in", out).group(1)), 1000, out)

    def test_1000_connections_at_once_then_300_more_are_answered_within_a_second(self):
        self.burst(1)

    def test_the_same_with_two_threads(self):
        self.burst(2)

    def parked_wave(self, threads, parked=4000, busy=4000, bound=1.0):
        """Issue 17, the service order: `parked` kept-alive connections have each had one
        answer and wait idle (in the reactor) while wrk keeps `busy` others busy; then each
        parked one sends a request at once. Every one must be answered within `bound`.

        Before the fix a response's write completion went to the back of the scheduler's queue,
        so a busy connection came back to read only after a whole pass, found wrk's next request
        there and took it at once, never waiting in the reactor, which hands over at most 128
        ready sockets per pass: the parked ones starved (the slowest waited 2-3 s here)."""
        import resource
        import selectors
        import shutil
        # Under a sanitizer (scripts/sanitize) the server is several times slower: the bound is
        # for the plain build, which is where a return of the starvation shows (1.4-2.4 s).
        bound *= {"asan": 3, "tsan": 6}.get(os.environ.get("SMTPCHECK_SANITIZER", ""), 1)
        wrk = shutil.which("wrk")
        self.assertIsNotNone(wrk, "wrk is missing (scripts/packages-test.txt)")
        nofile = parked + busy + 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < nofile:
            self.fail(f"this test needs {nofile} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, nofile), hard))
        limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        sockets = []
        try:
            with Server(f"server.threads={threads}", "log.access=false", nofile=nofile) as server:
                for _ in range(parked):
                    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                    s.sendall(GET_HEALTH)
                    self.assertIn(b" 200 ", s.recv(4096))
                    sockets.append(s)
                load = subprocess.Popen([wrk, "-t1", f"-c{busy}", "-d4s", "--timeout", "2s", server.url + "/healthz"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
                time.sleep(1.5)  # wrk's connections are open and busy
                sel = selectors.DefaultSelector()
                started, waits = {}, {}
                for s in sockets:
                    s.setblocking(False)
                    started[s] = time.monotonic()
                    s.send(GET_HEALTH)
                    sel.register(s, selectors.EVENT_READ)
                deadline = time.monotonic() + bound + 3
                while len(waits) < parked and time.monotonic() < deadline:
                    for key, _ in sel.select(timeout=0.1):
                        data = key.fileobj.recv(4096)
                        waits[key.fileobj] = time.monotonic() - started[key.fileobj] if b" 200 " in data else None
                        sel.unregister(key.fileobj)
                out, err = load.communicate(timeout=60)
        finally:
            for s in sockets:
                s.close()
        self.assertEqual(load.returncode, 0, err)
        answered = [w for w in waits.values() if w is not None]
        late = parked - sum(1 for w in answered if w <= bound)
        self.assertEqual(late, 0, f"{late} of {parked} parked connections waited over {bound} s or got no answer; "
                                  f"slowest answer {max(answered, default=None)}")
        self.assertGreater(int(re.search(r"(\d+) requests in", out).group(1)), busy, out)

    def test_idle_connections_woken_under_load_are_answered_within_a_second(self):
        self.parked_wave(1)

    def test_the_same_with_two_threads_woken(self):
        self.parked_wave(2)


class Shutdown(unittest.TestCase):
    def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(self):
        with Server() as server:
            idle = RawClient(server.port)
            idle.send(GET_HEALTH)
            self.assertEqual(idle.read_response().status, 200)
            inflight = RawClient(server.port)
            inflight.send(b"GET /readyz HTTP/1.1\r\nHost: t\r\n")  # the rest comes later
            time.sleep(0.2)
            server.signal(signal.SIGTERM)
            self.assertTrue(server.wait_for_log("draining"))
            self.assertTrue(idle.closed_by_server(3))
            inflight.send(b"\r\n")
            r = inflight.read_response()
            self.assertEqual((r.status, r.body), (503, "draining"))
            self.assertEqual(r.header("connection"), "close")
            self.assertEqual(server.stop(), 0)
            with self.assertRaises(OSError):
                RawClient(server.port, timeout=1)

    def test_a_request_that_never_completes_is_cut_after_the_grace_period(self):
        with Server("server.shutdown_grace_ms=300") as server:
            stuck = RawClient(server.port)
            stuck.send(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(0.2)
            started = time.monotonic()
            self.assertEqual(server.stop(), 0)
            self.assertLess(time.monotonic() - started, 5)
            self.assertTrue(server.wait_for_log("grace period over"))


class TwoThreads(unittest.TestCase):
    """server.threads = 2 runs one io_context on two threads with a strand per connection
    (the default, 1, has none): the same behaviour must hold."""

    def test_pipelining_concurrency_and_drain_with_two_threads(self):
        with Server("server.threads=2") as server:
            self.assertTrue(server.wait_for_log("serving with 2 thread"))
            c = RawClient(server.port)
            c.send(GET_HEALTH * 3)
            self.assertEqual([c.read_response().status for _ in range(3)], [200, 200, 200])
            results = []
            threads = [threading.Thread(target=lambda: results.append(curl(server.url + "/healthz").status))
                       for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [200] * 8)
            inflight = RawClient(server.port)
            inflight.send(b"GET /readyz HTTP/1.1\r\n")
            time.sleep(0.2)
            server.signal(signal.SIGTERM)
            self.assertTrue(c.closed_by_server(3))
            inflight.send(b"Host: t\r\n\r\n")
            self.assertEqual(inflight.read_response().status, 503)
            self.assertEqual(server.stop(), 0)


class Logging(unittest.TestCase):
    def test_access_log_has_one_line_per_request_without_secrets(self):
        with Server() as server:
            curl(server.url + "/healthz?token=hunter2&x=1",
                 headers=["Authorization: Basic c2VjcmV0OnNlY3JldA==", "Cookie: smtpcheck_session=abc123",
                          "X-Request-Id: req-7"])
            self.assertTrue(server.wait_for_log("id=req-7"))
            log = server.log()
            line = [l for l in log.splitlines() if "id=req-7" in l][0]
            self.assertIn("GET /healthz?token&x 200", line)
            for secret in ("hunter2", "c2VjcmV0", "abc123", "Basic"):
                self.assertNotIn(secret, log)

    def test_json_log_lines_parse(self):
        with Server("log.format=json") as server:
            curl(server.url + "/healthz", headers=['X-Request-Id: quote"d'])
            self.assertTrue(server.wait_for_log("access"))
            server.stop()
            lines = [l for l in server.log().splitlines() if l.strip()]
            self.assertTrue(lines)
            for l in lines:
                doc = json.loads(l)
                self.assertEqual(set(doc), {"time", "level", "logger", "msg"})

    def test_access_log_can_be_switched_off_and_level_raised(self):
        with Server("log.access=false", "log.level=warn", port=free_port()) as server:
            self.assertEqual(curl(server.url + "/healthz").status, 200)
            server.stop()
            self.assertNotIn("access", server.log())
            self.assertNotIn("listening", server.log())


if __name__ == "__main__":
    unittest.main()
