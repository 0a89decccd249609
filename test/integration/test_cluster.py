"""Several instances behind nginx share their state through Redis (issue 14): two real
smtpcheck instances (A and B), one Debian redis-server on a unix socket of the test's own and
Debian's nginx-light in front of them, configured as docs/scale-out.md 6.3 shows, all on
loopback. What a user sees: a password stored through one instance's configuration is used by
a test on the other; 20 wrong passwords spread over both instances lock the address out on
both; a session logged out on one is refused by the other and through nginx; a rolling
restart (SIGTERM A, start it again, then B) under continuous wrk load through nginx fails no
request; nginx sends requests to both instances."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from harness import SMTPCHECK, Server, curl, free_port, hash_of, metric
from smtp_peers import Aiosmtpd, Pki
from test_store import Redis, wait_for

ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"
# Refused by validation (no network at all): 200 with Success false, at once.
CHEAP_BODY = json.dumps({"SmtpUri": "smtp://127.0.0.1:25", "From": "not-an-address"})
NGINX = "/usr/sbin/nginx"
WRK = "/usr/bin/wrk"
# The SMTP peer accepts exactly this login (and only over STARTTLS).
SMTP_USER, SMTP_PASSWORD = "relay", "sh4red-across-instances"
# The failed-login case comes from its own loopback address, so that the address it locks out
# for a minute (in Redis, for every instance) is not the one the other cases and nginx use.
LOCKED_OUT = "127.0.0.2"
# Case 2b's clients behind nginx: one that guesses, one that does not.
GUESSER, NEIGHBOUR = "127.0.0.3", "127.0.0.4"
# Long enough for both restarts also under ASan (scripts/sanitize asan), where they took 11.4 s.
WRK_SECONDS = 20

NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    upstream smtpcheck {{
        server 127.0.0.1:{port_a} max_fails=1 fail_timeout=1s;
        server 127.0.0.1:{port_b} max_fails=1 fail_timeout=1s;
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port_lb};
        location / {{
            proxy_pass http://smtpcheck;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 2;
            proxy_next_upstream_timeout 5s;
        }}
    }}
}}
"""

# Alternates GET /healthz and a POST of the test route (Basic alice:pw, refused by validation:
# no network); counts the statuses and prints them when wrk ends. (wrk's response() is not told
# which request it answers, so the statuses are not split by route.)
MIX_LUA = """\
local n = 0
local body = '{body}'
local post_headers = {{ ["Authorization"] = "Basic YWxpY2U6cHc=", ["Content-Type"] = "application/json" }}
statuses = {{}}
request = function()
    n = n + 1
    if n % 2 == 0 then
        return wrk.format("GET", "/healthz")
    end
    return wrk.format("POST", "{route}", post_headers, body)
end
response = function(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end
local threads = {{}}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
    for _, t in ipairs(threads) do
        for status, count in pairs(t:get("statuses")) do io.write("status " .. status .. ": " .. count .. "\\n") end
    end
end
"""


def cli(*args, stdin=None):
    return subprocess.run([SMTPCHECK, *args], input=stdin, capture_output=True, text=True, timeout=30)


def sets(settings):
    return [a for s in settings for a in ("--set", s)]


def requests_of(server, route, status="200"):
    """smtpcheck_http_requests_total for a route and status on one instance (0 when absent)."""
    return metric(server, f'smtpcheck_http_requests_total{{route="{route}",status="{status}"}}')


class Cluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a = cls.b = cls.nginx = cls.redis = cls.smtp = cls.pki = None
        cls.tmp = None
        cls.retired = []  # instances stopped by the rolling restart, kept for their logs
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smtpcheck-cluster-")
        os.chmod(cls.tmp, 0o711)  # nginx's workers (nobody) reach their temp folders; nothing is listed
        cls.redis = Redis()
        cls.pki = Pki()
        cls.smtp = Aiosmtpd(tls=cls.pki.context(cls.pki.server("good")),
                            login=(SMTP_USER.encode(), SMTP_PASSWORD.encode()))
        cls.secret = os.path.join(cls.tmp, "auth.secret")  # one secret: sessions verify on both
        with open(os.open(cls.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(os.urandom(32))
        for name in ("a", "b"):
            os.mkdir(os.path.join(cls.tmp, name), 0o700)
        cls.creds_a = os.path.join(cls.tmp, "a", "credentials.json")
        cls.creds_b = os.path.join(cls.tmp, "b", "credentials.json")
        cls.store = ["store.backend=redis", f"store.redis_url={cls.redis.url}"]
        common = cls.store + [f"auth.secret_file={cls.secret}", "auth.failed_logins_per_minute=20",
                              f"users.alice={hash_of('pw')}", "api.tests_per_minute_per_user=0",
                              f"smtp.ca_file={cls.pki.ca_file}", "smtp.allow_private_destinations=true",
                              "smtp.allowed_ports=*", "server.trusted_proxies=127.0.0.1"]
        cls.settings = {"a": common + [f"smtp.credentials_file={cls.creds_a}"],
                        "b": common + [f"smtp.credentials_file={cls.creds_b}"]}
        # The credentials key, made once (by the CLI, through A's configuration), and a copy of
        # it for B: each instance keeps its own key file; the key never goes to Redis.
        placeholder = "setup@127.0.0.1:1"
        cli_a = sets(cls.store + [f"smtp.credentials_file={cls.creds_a}"])
        made = cli("credentials", "set", f"smtp://{placeholder}", *cli_a, stdin="placeholder\n")
        if made.returncode != 0:
            raise RuntimeError("credentials set (to make the key): " + made.stderr)
        cli("credentials", "delete", f"smtp://{placeholder}", *cli_a)
        shutil.copyfile(cls.creds_a + ".key", cls.creds_b + ".key")
        os.chmod(cls.creds_b + ".key", 0o600)

        cls.ports = {"a": free_port(), "b": free_port()}
        cls.a = cls.start_instance("a")
        cls.b = cls.start_instance("b")

        cls.nginx_dir = os.path.join(cls.tmp, "nginx")
        os.mkdir(cls.nginx_dir, 0o755)
        cls.lb_port = free_port()
        cls.lb = f"http://127.0.0.1:{cls.lb_port}"
        cls.error_log = os.path.join(cls.nginx_dir, "error.log")
        conf = os.path.join(cls.nginx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=cls.nginx_dir, port_a=cls.ports["a"], port_b=cls.ports["b"],
                                      port_lb=cls.lb_port))
        cls.nginx_out = open(os.path.join(cls.nginx_dir, "stderr"), "w+")
        cls.nginx = subprocess.Popen([NGINX, "-p", cls.nginx_dir + "/", "-c", conf, "-e", cls.error_log,
                                      "-g", "daemon off;"], stdout=cls.nginx_out, stderr=subprocess.STDOUT)

        def lb_up():
            if cls.nginx.poll() is not None:
                raise RuntimeError("nginx exited: " + cls.nginx_log())
            try:
                return curl(cls.lb + "/healthz", timeout=2).status == 200
            except RuntimeError:
                return False
        if not wait_for(lb_up, 10):
            raise RuntimeError("nginx does not answer /healthz: " + cls.nginx_log())

    @classmethod
    def start_instance(cls, name):
        server = Server(*cls.settings[name], port=cls.ports[name])
        if not wait_for(lambda: curl(server.url + "/readyz").status == 200, 10):
            server.__exit__()
            raise RuntimeError(f"instance {name} is not ready: {curl(server.url + '/readyz').body}\n{server.log()}")
        return server

    @classmethod
    def nginx_log(cls):
        text = ""
        nginx_dir = getattr(cls, "nginx_dir", None)
        for path in (getattr(cls, "error_log", None), nginx_dir and os.path.join(nginx_dir, "stderr")):
            if path and os.path.exists(path):
                with open(path) as f:
                    text += f.read()
        return text

    @classmethod
    def stop_nginx(cls):
        proc = cls.nginx
        if proc is None or proc.poll() is not None:
            return
        workers = []
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                workers = [int(p) for p in f.read().split()]
        except OSError:
            pass
        proc.terminate()  # fast shutdown: the master ends its workers
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            for pid in workers:  # its own workers only, by their ids
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.kill()
            proc.wait()

    @classmethod
    def tearDownClass(cls):
        steps = [cls.stop_nginx]
        for server in [cls.a, cls.b, *cls.retired]:
            if server is not None:
                steps.append(server.__exit__)
        if cls.smtp is not None:
            steps.append(cls.smtp.stop)
        if cls.redis is not None:
            steps.append(cls.redis.close)
        if cls.pki is not None:
            steps.append(cls.pki.close)
        if getattr(cls, "nginx_out", None) is not None:
            steps.append(cls.nginx_out.close)
        if cls.tmp is not None:
            steps.append(lambda: shutil.rmtree(cls.tmp, ignore_errors=True))
        for step in steps:  # every one, whatever the others did
            try:
                step()
            except Exception as e:  # noqa: BLE001 - the remaining steps must still run
                print(f"cleanup: {step}: {e!r}", file=sys.stderr)

    def run_smtp_test(self, server, doc, *args):
        return curl(server.url + ROUTE, "-u", "alice:pw", *args, method="POST", data=json.dumps(doc),
                    headers=["Content-Type: application/json"], timeout=20)

    # 1. A stored SMTP password is one for all instances.
    def test_1_a_password_stored_through_one_instance_is_used_by_a_test_on_the_other(self):
        uri = f"smtp://{SMTP_USER}@127.0.0.1:{self.smtp.port}"
        shown = f"{SMTP_USER}@127.0.0.1:{self.smtp.port}"
        as_a = sets(self.store + [f"smtp.credentials_file={self.creds_a}"])
        as_b = sets(self.store + [f"smtp.credentials_file={self.creds_b}"])
        stored = cli("credentials", "set", uri, *as_a, stdin=SMTP_PASSWORD + "\n")
        self.assertEqual(stored.returncode, 0, stored.stderr)

        before = len(self.smtp.handler.authenticated)
        request = {"SmtpUri": uri, "From": "jane@example.com", "UseStoredPassword": True}
        r = self.run_smtp_test(self.b, request)
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["Success"], True, "B did not find the password stored through A: " + r.body)
        # The peer accepts only that user and password: the message came from a logged-in session.
        self.assertEqual(self.smtp.handler.authenticated[before:], [True])

        listed = cli("credentials", "list", *as_b)
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(shown, listed.stdout.splitlines())
        self.assertNotIn(SMTP_PASSWORD, listed.stdout + listed.stderr)

        deleted = cli("credentials", "delete", uri, *as_b)
        self.assertEqual(deleted.returncode, 0, deleted.stderr)
        r = self.run_smtp_test(self.a, request)
        self.assertEqual(r.status, 200, r.body)
        self.assertIs(r.json()["Success"], False, r.body)
        self.assertIn("No password is stored", r.json()["ErrorMessage"])
        self.assertEqual(len(self.smtp.handler.authenticated), before + 1)  # A did not even connect
        self.assertNotIn(shown, cli("credentials", "list", *as_a).stdout.splitlines())

    # 2. The failed-login limit counts across instances.
    def test_2_twenty_wrong_passwords_over_both_instances_lock_the_address_out_on_both(self):
        def attempt(server, password):
            return curl(server.url + ROUTE, "-u", f"alice:{password}", "--interface", LOCKED_OUT)
        for i in range(20):
            server = (self.a, self.b)[i % 2]
            r = attempt(server, "wrong")
            self.assertEqual(r.status, 401, f"attempt {i + 1} on {'AB'[i % 2]}: {r.body}")
        for name, server in (("A", self.a), ("B", self.b)):
            r = attempt(server, "wrong")
            self.assertEqual(r.status, 429, f"the 21st on {name} (each instance saw 10): {r.status} {r.body}")
            self.assertTrue(1 <= int(r.header("retry-after")) <= 61, r.header("retry-after"))
            self.assertEqual(r.json()["ErrorType"], "TooManyRequests")
        for name, server in (("A", self.a), ("B", self.b)):  # the right password too, from that address
            self.assertEqual(attempt(server, "pw").status, 429, name)
        self.assertEqual(curl(self.a.url + ROUTE, "-u", "alice:pw").status, 200)  # another address is not

    # 2b. Behind nginx, the limit counts per client (X-Forwarded-For from a trusted proxy), not
    # per proxy: one guesser does not lock out everyone else behind the same nginx.
    def test_2b_behind_nginx_the_limit_counts_the_client_not_the_proxy(self):
        def through_nginx(client, password, *headers):
            return curl(self.lb + ROUTE, "-u", f"alice:{password}", "--interface", client,
                        headers=list(headers))
        for i in range(20):
            self.assertEqual(through_nginx(GUESSER, "wrong").status, 401, f"attempt {i + 1}")
        r = through_nginx(GUESSER, "wrong")
        self.assertEqual(r.status, 429, r.body)
        self.assertEqual(through_nginx(GUESSER, "pw").status, 429)
        self.assertEqual(through_nginx(NEIGHBOUR, "pw").status, 200)
        # A client cannot pass itself off as another: nginx replaces the header, and a client
        # that reaches an instance directly is not a trusted proxy, so its header is ignored.
        self.assertEqual(through_nginx(NEIGHBOUR, "pw", f"X-Forwarded-For: {GUESSER}").status, 200)
        direct = curl(self.a.url + ROUTE, "-u", "alice:pw", "--interface", NEIGHBOUR,
                      headers=[f"X-Forwarded-For: {LOCKED_OUT}"])
        self.assertEqual(direct.status, 200)
        spoofed = curl(self.a.url + ROUTE, "-u", "alice:pw", "--interface", GUESSER,
                       headers=[f"X-Forwarded-For: {NEIGHBOUR}"])
        self.assertEqual(spoofed.status, 429)

    # 3. A session logged out on one instance is refused everywhere.
    def login(self, server):
        r = curl(server.url + "/login", method="POST", data='{"Username":"alice","Password":"pw"}',
                 headers=["Content-Type: application/json"])
        self.assertEqual(r.status, 204, r.body)
        jar = dict(c.split(";")[0].split("=", 1) for c in r.headers["set-cookie"])
        return f"smtpcheck_session={jar['smtpcheck_session']}; XSRF-TOKEN={jar['XSRF-TOKEN']}", jar["XSRF-TOKEN"]

    def describe(self, url, cookies, xsrf):
        return curl(url + ROUTE, headers=[f"Cookie: {cookies}", f"X-XSRF-TOKEN: {xsrf}"]).status

    def test_3_a_session_logged_out_on_one_instance_is_refused_by_the_other_and_through_nginx(self):
        cookies, xsrf = self.login(self.a)
        self.assertEqual(self.describe(self.b.url, cookies, xsrf), 200)
        self.assertEqual(self.describe(self.lb, cookies, xsrf), 200)
        out = curl(self.a.url + "/logout", method="POST", headers=[f"Cookie: {cookies}"])
        self.assertEqual(out.status, 204, out.body)
        self.assertEqual(self.describe(self.b.url, cookies, xsrf), 401)
        for _ in range(2):  # through nginx, whichever instance it picks (round robin: both)
            self.assertEqual(self.describe(self.lb, cookies, xsrf), 401)

    # 4. Rolling restart under load.
    def restart(self, name, wrk):
        """SIGTERM one instance, wait for it to exit, start it again on its port, wait for its
        /readyz and for nginx to send it wrk's requests again (its fail_timeout is 1 s); the
        times of each step."""
        other = getattr(self, "b" if name == "a" else "a")
        old = getattr(self, name)
        times = {}
        started = time.monotonic()
        status = old.stop(timeout=15)
        type(self).retired.append(old)
        if status != 0:
            raise AssertionError(f"{name.upper()} exited with {status} after SIGTERM")
        times["exited"] = round(time.monotonic() - started, 3)
        new = type(self).start_instance(name)
        setattr(type(self), name, new)
        times["ready"] = round(time.monotonic() - started, 3)
        # Either kind of wrk's requests: wrk alternates them and nginx alternates the instances,
        # so one instance may get only the GETs and the other only the POSTs for a while.
        def served(server):
            return requests_of(server, "/healthz") + requests_of(server, ROUTE)
        other_before = served(other)
        if not wait_for(lambda: served(new) > 0, 5):
            raise AssertionError(
                f"nginx sent {name.upper()} no request in 5 s after its /readyz answered 200; meanwhile the other "
                f"instance served {served(other) - other_before}; wrk "
                + ("still running" if wrk.poll() is None else f"ended with {wrk.returncode}"))
        times["in rotation"] = round(time.monotonic() - started, 3)
        return times

    def test_4_a_rolling_restart_under_load_fails_no_request(self):
        lua = os.path.join(self.tmp, "mix.lua")
        with open(lua, "w") as f:
            f.write(MIX_LUA.format(body=CHEAP_BODY, route=ROUTE))
        wrk = subprocess.Popen([WRK, "-t1", "-c8", f"-d{WRK_SECONDS}s", "--latency", "-s", lua, self.lb + "/"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        times, problem, out = {}, None, ""
        try:
            began = time.monotonic()
            time.sleep(2)  # load on both first
            try:
                times["A"] = self.restart("a", wrk)
                time.sleep(0.5)
                times["B"] = self.restart("b", wrk)
            except AssertionError as e:  # reported below, with wrk's summary and nginx's log
                problem = str(e)
            restarted_at = time.monotonic() - began
            out, _ = wrk.communicate(timeout=WRK_SECONDS + 20)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                out += wrk.communicate()[0]
        print(f"\nrestarts (s after SIGTERM): {times}; done {restarted_at:.1f} s into {WRK_SECONDS} s of wrk\n"
              + out, file=sys.stderr)
        upstream_lines = [l for l in self.nginx_log().splitlines() if "upstream" in l]
        if upstream_lines:
            print("nginx error.log (retried or failed upstream requests):\n" + "\n".join(upstream_lines[-20:]),
                  file=sys.stderr)
        evidence = "\n".join([out, "nginx error.log:", *upstream_lines[-30:],
                              *(f"{s.url} (stopped), its log less the access lines:\n" + "".join(
                                  l for l in s.log().splitlines(True) if " info access " not in l)[-3000:]
                                for s in self.retired[-2:])])
        self.assertIsNone(problem, evidence)
        self.assertEqual(wrk.returncode, 0, out)
        self.assertLess(restarted_at, WRK_SECONDS - 1, "wrk ended before both restarts were done")
        self.assertNotIn("Non-2xx or 3xx responses", out, evidence)
        self.assertNotIn("Socket errors", out, evidence)
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        self.assertGreater(requests, 500, out)

    # 5. nginx uses both.
    def test_5_through_nginx_both_instances_serve_requests(self):
        before = {name: requests_of(getattr(self, name), "/healthz") for name in ("a", "b")}
        for _ in range(10):
            self.assertEqual(curl(self.lb + "/healthz").status, 200)
        served = {name: requests_of(getattr(self, name), "/healthz") - before[name] for name in ("a", "b")}
        self.assertEqual(sum(served.values()), 10, served)
        self.assertGreater(served["a"], 0, served)
        self.assertGreater(served["b"], 0, served)


if __name__ == "__main__":
    unittest.main()
