"""Real SMTP servers for the tests, on 127.0.0.1: aiosmtpd (STARTTLS, implicit TLS, AUTH),
Postfix's smtp-sink, and small scripted servers for the faults real servers will not make.
Certificates are made at test time with python3-cryptography."""

import datetime
import email
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys
from cryptography.x509.oid import NameOID


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pki:
    """A test CA and the server certificates the tests need, as PEM files in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smtpcheck-pki-")
        now = datetime.datetime.now(datetime.timezone.utc)
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtpcheck test CA")])
        self._ca_name = ca_name
        self._ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
                    .public_key(self._ca_key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(days=1))
                    .not_valid_after(now + datetime.timedelta(days=30))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .sign(self._ca_key, hashes.SHA256()))
        self.ca_file = self._write("ca.pem", self._ca.public_bytes(serialization.Encoding.PEM))

    def _write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def server(self, name, sans=("localhost",), ips=("127.0.0.1",), days_valid=(-1, 30), self_signed=False, rsa=False):
        """Returns (cert_file, key_file); an EC key unless `rsa` (for RSA key exchange)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = rsa_keys.generate_private_key(65537, 2048) if rsa else ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0] if sans else "server")])
        import ipaddress
        alt = [x509.DNSName(s) for s in sans] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if self_signed else self._ca_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now + datetime.timedelta(days=days_valid[0]))
                   .not_valid_after(now + datetime.timedelta(days=days_valid[1]))
                   .add_extension(x509.SubjectAlternativeName(alt), critical=False))
        cert = builder.sign(key if self_signed else self._ca_key, hashes.SHA256())
        cert_file = self._write(name + ".pem", cert.public_bytes(serialization.Encoding.PEM))
        key_file = self._write(name + ".key", key.private_bytes(serialization.Encoding.PEM,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
        return cert_file, key_file

    def context(self, cert_key):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*cert_key)
        return ctx

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Recorder:
    """aiosmtpd handler: keeps what arrived; refuses senders and recipients on cue."""

    def __init__(self):
        self.messages = []
        self.envelopes = []
        self.authenticated = []  # per message: whether its session had logged in

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address.endswith("@refused.example"):
            return "553 5.7.1 Sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@elsewhere.example"):
            return "554 5.7.1 Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.authenticated.append(bool(getattr(session, "authenticated", False)))
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 2.0.0 Ok: queued"


def authenticator_for(login, password):
    """Accepts exactly this user and password (bytes, as they arrive)."""
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == login and auth_data.password == password
        return AuthResult(success=ok, handled=False)
    return check


class Aiosmtpd:
    """aiosmtpd on 127.0.0.1: STARTTLS when `tls` is given, implicit TLS when `implicit`."""

    def __init__(self, tls=None, implicit=None, auth=True, auth_require_tls=True, server_hostname=None,
                 login=(b"demo", b"demo")):
        self.handler = Recorder()
        self.port = free_port()
        kwargs = dict(hostname="127.0.0.1", port=self.port, ready_timeout=10)
        if server_hostname is not None:  # the name in its greeting and EHLO reply
            kwargs["server_hostname"] = server_hostname
        if tls is not None:
            kwargs["tls_context"] = tls
        if implicit is not None:
            kwargs["ssl_context"] = implicit
        if auth:
            kwargs["authenticator"] = authenticator_for(*login)
            kwargs["auth_require_tls"] = auth_require_tls
        self.controller = Controller(self.handler, **kwargs)
        self.controller.start()

    def stop(self):
        self.controller.stop()


class SmtpSink:
    """Postfix's smtp-sink: fast, accepts everything (and answers AUTH with 250)."""

    def __init__(self):
        self.port = free_port()
        args = ["/usr/sbin/smtp-sink"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += [f"127.0.0.1:{self.port}", "128"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("smtp-sink did not start: " + self.proc.stderr.read().decode())
                time.sleep(0.05)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stderr.close()


class Scripted:
    """A server that plays a script per connection: a list of (expect_prefix, send) pairs.
    `send` may be bytes, None (send nothing: wait), or "close". Counts connections."""

    def __init__(self, script):
        self.script = script
        self.connections = 0
        self.received = b""
        self.closed = threading.Event()  # set when a client ends a connection the script waits on
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _play(self, conn):
        buf = b""
        try:
            for expect, send in self.script:
                while expect is not None and b"\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                    self.received += chunk
                if expect is not None:
                    _, _, buf = buf.partition(b"\n")
                if send == "close":
                    return
                if send is None:  # silence: wait until the client goes away
                    conn.settimeout(30)
                    try:
                        while conn.recv(65536):
                            pass
                        self.closed.set()
                    except OSError:
                        self.closed.set()
                    return
                conn.sendall(send)
            time.sleep(2)
        except OSError:
            pass
        finally:
            conn.close()

    def wait_closed(self, timeout):
        return self.closed.wait(timeout)

    def stop(self):
        self._stop = True
        self.sock.close()
