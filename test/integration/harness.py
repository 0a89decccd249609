"""Starts the real smtpcheck binary on loopback and talks to it as clients do: curl for
HTTP, raw sockets for what curl will not send."""

import json
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time

SMTPCHECK = os.environ.get("SMTPCHECK", "../../build/server/smtpcheck")
CURL = "/usr/bin/curl"
# Network tests use loopback only. A failed test looks up its From domain's SRV and MX records
# (Suggestions, issue 15); outside test_dns's private namespace those queries would go to the
# machine's resolver, so servers started here ask a closed local port instead (refused at
# once). test_dns, whose namespace has its own DNS stand-in, sets this to None.
LOCAL_DNS = "smtp.dns_servers=127.0.0.1:9"


_hashes = {}


def hash_of(password):
    """`smtpcheck hash-password` for a [users] entry, once per password (PBKDF2 is slow)."""
    if password not in _hashes:
        _hashes[password] = subprocess.run([SMTPCHECK, "hash-password"], input=password + "\n", capture_output=True,
                                           text=True, check=True, timeout=30).stdout.strip()
    return _hashes[password]


class Server:
    """`smtpcheck serve` on 127.0.0.1 port 0; the bound addresses come from its log."""

    def __init__(self, *settings, nofile=None, listen="127.0.0.1:0", config_file=None, port=None, options=()):
        """With `port`, the server listens there and readiness is seen by connecting, for
        configurations whose log level hides the "listening on" lines. `options` are more
        arguments for `serve` (e.g. "--demo")."""
        if port is not None:
            listen = f"127.0.0.1:{port}"
        args = [SMTPCHECK, "serve", *options, "--set", f"server.listen={listen}"]
        if config_file:
            args += ["--config", config_file]
        if LOCAL_DNS and not any(s.startswith("smtp.dns_servers=") for s in settings):
            args += ["--set", LOCAL_DNS]
        for s in settings:
            args += ["--set", s]
        preexec = None
        if nofile is not None:
            preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=preexec)
        self.lines = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        try:
            self._await_ready(port)
        except BaseException:
            self.proc.kill()  # a server that failed to come up must not outlive the test
            self.proc.wait()
            raise

    def _await_ready(self, port):
        self.addresses = []
        deadline = time.monotonic() + 10
        if port is not None:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("smtpcheck did not start:\n" + self.log())
                    time.sleep(0.05)
            self.url, self.port = f"http://127.0.0.1:{port}", port
            return
        with self._cond:
            while "serving with" not in "".join(self.lines):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("smtpcheck did not start:\n" + "".join(self.lines))
                self._cond.wait(0.1)
            for line in self.lines:
                m = re.search(r"listening on ([^\s\"]+)", line)
                if m:
                    self.addresses.append(m.group(1))
        http = [a for a in self.addresses if a.startswith("http://")]
        self.url = http[0] if http else None
        self.port = int(self.url.rsplit(":", 1)[1]) if self.url else None

    def _drain(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    def log(self):
        with self._cond:
            return "".join(self.lines)

    def wait_for_log(self, pattern, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not re.search(pattern, "".join(self.lines)):
                if time.monotonic() > deadline:
                    return False
                self._cond.wait(0.1)
        return True

    def signal(self, sig=signal.SIGTERM):
        self.signalled = True
        self.proc.send_signal(sig)

    def stop(self, timeout=15):
        """SIGTERM (unless a test already sent it: a second one could reach the process after
        its handler is gone and kill it) and the exit status."""
        if self.proc.poll() is None and not getattr(self, "signalled", False):
            self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(2)
        self.proc.stderr.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> list of values
        self.body = body

    def header(self, name):
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def json(self):
        return json.loads(self.body)


def parse_head(text):
    lines = text.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers


def curl_bytes(url, *args, method=None, data=None, headers=(), timeout=10):
    """One request through curl: status, headers and the body as bytes of the final response
    (after any 100 Continue)."""
    cmd = [CURL, "-sS", "-D", "-", "--max-time", str(timeout)]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", data]
    cmd += list(args) + [url]
    out = subprocess.run(cmd, capture_output=True, timeout=timeout + 5)
    if out.returncode != 0:
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.decode()}")
    raw = out.stdout
    # Skip interim responses; the last header block is the final response.
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, hdrs = parse_head(head.decode("latin-1"))
        if 100 <= status < 200:
            raw = rest
            continue
        return status, hdrs, rest


def curl(url, *args, method=None, data=None, headers=(), timeout=10):
    """One request through curl; the final response (after any 100 Continue)."""
    status, hdrs, body = curl_bytes(url, *args, method=method, data=data, headers=headers, timeout=timeout)
    return Response(status, hdrs, body.decode("utf-8", "replace"))


def metric(server, sample):
    """The value of one /metrics sample, its name with labels as printed
    ('smtpcheck_smtp_tests_total{outcome="SR_SMTP_TIMEOUT"}'); 0 when absent (counters are
    printed once they count)."""
    m = re.search("^" + re.escape(sample) + r" (\d+)$", curl(server.url + "/metrics").body, re.M)
    return int(m.group(1)) if m else 0


class RawClient:
    """A socket that sends exactly the bytes a test gives it."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("closed by the server")
        self.buf += chunk

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, headers = parse_head(head.decode("latin-1"))
        length = int(headers.get("content-length", ["0"])[-1])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, headers, body.decode("utf-8", "replace"))

    def closed_by_server(self, timeout=5.0):
        """True when the server ends the connection (EOF or reset) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()

    def __del__(self):
        if hasattr(self, "sock"):  # not when the connection itself failed
            self.sock.close()
