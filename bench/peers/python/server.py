"""A reference peer for smtpcheck's benchmarks (issue 6): POST
/api/v1/Agents/CustomerService/TestSmtpServer written the way a Python developer would, on
aiohttp and aiosmtplib (Debian 12's packages), at their best: no access log, one process,
uvloop when it is installed, a fresh SMTP connection per test (each request is a real test).

usage: /usr/bin/python3 server.py PORT
env:   PEER_USER, PEER_PASSWORD (Basic credentials, default bench / bench-password),
       PEER_RECIPIENT (default smtp-test@superoffice.com, as smtpcheck's smtp.test_recipient),
       PEER_TIMEOUT_MS (whole-test deadline, default 5000)"""

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import resource
import socket
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiohttp import web

USER = os.environ.get("PEER_USER", "bench")
PASSWORD = os.environ.get("PEER_PASSWORD", "bench-password")
RECIPIENT = os.environ.get("PEER_RECIPIENT", "smtp-test@superoffice.com")
TIMEOUT = float(os.environ.get("PEER_TIMEOUT_MS", "5000")) / 1000
ROUTE = "/api/v1/Agents/CustomerService/TestSmtpServer"
HOSTNAME = socket.gethostname()

# --- Basic authentication, compared in constant time -------------------------------------
_USER_DIGEST = hashlib.sha256(USER.encode()).digest()
_PASSWORD_DIGEST = hashlib.sha256(PASSWORD.encode()).digest()


def authorized(header):
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, colon, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(hashlib.sha256(user.encode()).digest(), _USER_DIGEST)
    password_ok = hmac.compare_digest(hashlib.sha256(password.encode()).digest(), _PASSWORD_DIGEST)
    return bool(colon) and user_ok and password_ok


UNAUTHORIZED = json.dumps({"Error": True, "ErrorType": "Unauthorized",
                           "ErrorMessage": "Authentication required", "ErrorSource": "auth"})

# --- From: one RFC 5321 mailbox ----------------------------------------------------------
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]"
_LABEL = r"[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\u0080-\uffff-]{0,61}[A-Za-z0-9\u0080-\uffff])?"
_MAILBOX = re.compile(
    rf'(?:{_ATEXT}+(?:\.{_ATEXT}+)*|"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*")'
    rf"@(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])")


def valid_mailbox(value):
    return isinstance(value, str) and len(value) <= 254 and _MAILBOX.fullmatch(value) is not None


# --- SmtpUri into aiosmtplib.send arguments ------------------------------------------------
SCHEMES = {"smtp": (25, False, None), "smtp+starttls": (587, False, True), "smtps": (465, True, False)}


class Invalid(Exception):
    pass


def smtp_arguments(uri):
    if not isinstance(uri, str) or not uri:
        raise Invalid("SmtpUri is missing")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as e:
        raise Invalid(f"SmtpUri is not a valid URI: {e}") from None
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise Invalid(f"SmtpUri scheme {parts.scheme}: is not supported (smtp, smtp+starttls, smtps)")
    if parts.query or parts.fragment:
        raise Invalid("SmtpUri may not have a query or fragment")
    if not parts.hostname:
        raise Invalid("SmtpUri has no host")
    default_port, use_tls, start_tls = scheme
    arguments = dict(hostname=parts.hostname, port=port or default_port, use_tls=use_tls, start_tls=start_tls,
                     local_hostname=unquote(parts.path.lstrip("/")) or HOSTNAME, timeout=TIMEOUT,
                     tls_context=TLS_CONTEXT)
    if parts.username:
        user = unquote(parts.username)
        user = re.split(";AUTH=", user, maxsplit=1, flags=re.IGNORECASE)[0]  # aiosmtplib picks the mechanism
        arguments.update(username=user, password=unquote(parts.password or ""))
        # Like smtpcheck: credentials never travel over an unencrypted connection.
        if not use_tls:
            arguments["start_tls"] = True
    return arguments


TLS_CONTEXT = ssl.create_default_context()
TLS_CONTEXT.minimum_version = ssl.TLSVersion.TLSv1_2


def field(body, name):
    """Property names are case-insensitive; missing ones are null."""
    if not isinstance(body, dict):
        return None
    lower = name.lower()
    return next((value for key, value in body.items() if key.lower() == lower), None)


def result(success, message=None):
    return web.Response(text=json.dumps({"Success": success, "ErrorMessage": message, "TableRight": None,
                                         "FieldProperties": {}}, separators=(",", ":")),
                        content_type="application/json", charset="utf-8")


async def test_smtp_server(request):
    if not authorized(request.headers.get("Authorization")):
        return web.Response(status=401, text=UNAUTHORIZED, content_type="application/json", charset="utf-8",
                            headers={"WWW-Authenticate": 'Basic realm="smtpcheck-peer", charset="UTF-8"'})
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return web.Response(status=400, text='{"Error":true,"ErrorType":"BadRequest","ErrorMessage":"Malformed JSON"}',
                            content_type="application/json", charset="utf-8")
    sender = field(body, "From")
    try:
        arguments = smtp_arguments(field(body, "SmtpUri"))
    except Invalid as e:
        return result(False, str(e))
    if not valid_mailbox(sender):
        return result(False, "From is not one mailbox")
    stored = field(body, "UseStoredPassword")
    if stored is True or str(stored).lower() == "true":
        return result(False, "No password is stored for this user, host and port")

    message = EmailMessage()
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["From"] = sender
    message["To"] = RECIPIENT
    message["Subject"] = "SMTP settings test"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("[]") or None)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(f"This is an automatic test of the SMTP settings for {sender}.\n")
    try:
        async with asyncio.timeout(TIMEOUT):
            await aiosmtplib.send(message, sender=sender, recipients=[RECIPIENT], **arguments)
    except TimeoutError:
        return result(False, f"The test took longer than {TIMEOUT * 1000:.0f} ms")
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
        return result(False, str(e) or type(e).__name__)
    return result(True)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    app = web.Application()
    app.router.add_post(ROUTE, test_smtp_server)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
