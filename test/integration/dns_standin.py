"""An authoritative DNS stand-in for the tests and benchmarks (dnspython on asyncio): answers
A and AAAA from a small zone over UDP and TCP, on loopback only. Each name either answers its
addresses (in the order given), or behaves: `nxdomain`, `servfail`, or `silent` (the query is
counted and never answered). `*.suffix` answers every name under suffix. Any other name is
NXDOMAIN; other query types for a known name get an empty answer (NODATA), except SRV and MX
records given as {"srv": [(priority, weight, port, target)], "mx": [(preference, exchange)]}. `delay_ms` holds
every answer back that long on a timer, so other queries are served meanwhile. Every query
is counted, per name and type, so a test can tell whether a cache spared one.

As a module:
    with DnsStandin({"mx.test": ["127.0.0.1"], "gone.test": "nxdomain"}, port=53) as dns:
        ...; dns.count("mx.test")
As a command (prints `ready UDP+TCP 127.0.0.1:53` on stdout once serving):
    dns_standin.py [--address A] [--port P] [--ttl S] [--delay-ms N] [--zone FILE]
                   [--count-file F] [--log] [NAME=SPEC ...]
  SPEC: comma-separated addresses, or nxdomain|servfail|silent; optional `;ttl=S`.
  FILE: JSON {"name": SPEC or [addresses] or {"addresses": [...], "ttl": S, "behaviour": B}}
        or text, one `NAME SPEC...` a line (addresses separated by spaces or commas; `ttl=S`
        may follow; `#` starts a comment).
  --count-file: {"total": N, "names": {"name TYPE": N}}, rewritten 0.2 s after a query.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import struct
import sys
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

BEHAVIOURS = ("normal", "nxdomain", "servfail", "silent")


class Entry:
    def __init__(self, addresses=(), ttl=60, behaviour="normal", srv=(), mx=()):
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}")
        self.addresses = [str(ipaddress.ip_address(a)) for a in addresses]
        self.ttl = int(ttl)
        self.behaviour = behaviour
        self.srv = [f"{p} {w} {port} {target.rstrip('.')}." for p, w, port, target in srv]  # priority weight port target
        self.mx = [f"{p} {target.rstrip('.')}." for p, target in mx]  # preference exchange


def entry_from_spec(spec, ttl=60):
    """`spec`: a list of addresses, a behaviour name, "a,b;ttl=30", or a dict."""
    if isinstance(spec, Entry):
        return spec
    if isinstance(spec, dict):
        return Entry(spec.get("addresses", ()), spec.get("ttl", ttl), spec.get("behaviour", "normal"),
                     spec.get("srv", ()), spec.get("mx", ()))
    if isinstance(spec, (list, tuple)):
        return Entry(spec, ttl)
    words = spec.replace(";", " ").replace(",", " ").split()
    addresses, behaviour = [], "normal"
    for w in words:
        if w.startswith("ttl="):
            ttl = int(w[4:])
        elif w in BEHAVIOURS:
            behaviour = w
        else:
            addresses.append(w)
    return Entry(addresses, ttl, behaviour)


def load_zone(path, ttl=60):
    with open(path) as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        return {name: entry_from_spec(spec, ttl) for name, spec in json.loads(text).items()}
    zone = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, spec = line.partition(" ")
            zone[name] = entry_from_spec(spec, ttl)
    return zone


class DnsStandin:
    def __init__(self, zone=None, address="127.0.0.1", port=53, ttl=60, delay_ms=0, log=False, count_file=None):
        self.address, self.port, self.ttl = address, port, ttl
        self.zone = {}
        for name, spec in (zone or {}).items():
            self.set(name, spec)
        self.delay_ms, self.log, self.count_file = delay_ms, log, count_file
        self.counts = {}  # "name TYPE" -> queries received (silent ones included)
        self._lock = threading.Lock()
        self._write_due = False
        self._loop = None
        self._thread = None

    # --- the zone ----------------------------------------------------------------------
    def set(self, name, spec, ttl=None):
        """Adds or replaces a name (may be called while serving)."""
        self.zone[name.lower().rstrip(".")] = entry_from_spec(spec, self.ttl if ttl is None else ttl)

    def lookup(self, qname):
        name = qname.lower().rstrip(".")
        if name in self.zone:
            return self.zone[name]
        labels = name.split(".")
        for i in range(1, len(labels)):  # the longest wildcard first
            wild = "*." + ".".join(labels[i:])
            if wild in self.zone:
                return self.zone[wild]
        return None

    # --- counting ----------------------------------------------------------------------
    def count(self, name=None, rdtype=None):
        """Queries received, all of them or for one name (and type: "A", "AAAA")."""
        with self._lock:
            return sum(n for key, n in self.counts.items()
                       if (name is None or key.split()[0] == name.lower().rstrip("."))
                       and (rdtype is None or key.split()[1] == rdtype))

    def _counted(self, qname, qtype):
        key = f"{qname.lower().rstrip('.')} {qtype}"
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
        if self.log:
            print(f"dns: {key}", file=sys.stderr, flush=True)
        # The file at most every 0.2 s (benchmarks); this runs on the loop's thread only.
        if self.count_file and not self._write_due:
            self._write_due = True
            self._loop.call_later(0.2, self._write_counts)

    def _write_counts(self):
        with self._lock:
            self._write_due = False
            snapshot = dict(self.counts)
        with open(self.count_file + ".tmp", "w") as f:
            json.dump({"total": sum(snapshot.values()), "names": snapshot}, f)
        os.replace(self.count_file + ".tmp", self.count_file)

    # --- answering ---------------------------------------------------------------------
    def answer(self, wire, max_size):
        """The response to one query as wire bytes, or None for silence."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        q = query.question[0]
        qtype = dns.rdatatype.to_text(q.rdtype)
        self._counted(q.name.to_text(), qtype)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        entry = self.lookup(q.name.to_text())
        # The authority's SOA on a negative answer, so resolvers may cache it for its TTL.
        soa = dns.rrset.from_text(q.name.split(2)[1] if len(q.name) > 2 else dns.name.root,
                                  entry.ttl if entry else self.ttl, "IN", "SOA",
                                  f"ns.invalid. hostmaster.invalid. 1 3600 600 86400 {entry.ttl if entry else self.ttl}")
        if entry is None or entry.behaviour == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(soa)
        elif entry.behaviour == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif entry.behaviour == "silent":
            return None
        else:
            family = {dns.rdatatype.A: 4, dns.rdatatype.AAAA: 6}.get(q.rdtype)
            wanted = [a for a in entry.addresses if ipaddress.ip_address(a).version == family]
            if q.rdtype == dns.rdatatype.SRV:
                wanted = entry.srv
            elif q.rdtype == dns.rdatatype.MX:
                wanted = entry.mx
            if wanted:  # in the zone's order (to_wire below does not shuffle them)
                response.answer.append(dns.rrset.from_text_list(q.name, entry.ttl, dns.rdataclass.IN, qtype, wanted))
            else:  # NODATA
                response.authority.append(soa)
        if query.edns >= 0:
            max_size = max(max_size, min(query.payload, 65535))
        try:
            return response.to_wire(max_size=max_size, want_shuffle=False)
        except dns.exception.TooBig:  # UDP: tell the client to come back over TCP
            response.answer = []
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _reply_later(self, send, wire, max_size):
        def go():
            data = self.answer(wire, max_size)
            if data is not None:
                send(data)
        if self.delay_ms > 0:
            self._loop.call_later(self.delay_ms / 1000, go)
        else:
            go()

    # --- serving -----------------------------------------------------------------------
    class _Udp(asyncio.DatagramProtocol):
        def __init__(self, standin):
            self.standin = standin

        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            self.standin._reply_later(lambda out: self.transport.sendto(out, addr), data, 512)

    async def _tcp(self, reader, writer):
        try:
            while True:
                length = struct.unpack("!H", await reader.readexactly(2))[0]
                wire = await reader.readexactly(length)
                self._reply_later(lambda out: writer.is_closing() or writer.write(struct.pack("!H", len(out)) + out),
                                  wire, 65535)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _start(self):
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(lambda: self._Udp(self), local_addr=(self.address, self.port))
        if self.port == 0:
            self.port = self._udp.get_extra_info("sockname")[1]
        self._tcp_server = await asyncio.start_server(self._tcp, self.address, self.port, reuse_address=True)

    def start(self):
        """Serves from a thread of its own; returns once both sockets are bound."""
        self._loop = asyncio.new_event_loop()
        ready, failure = threading.Event(), []

        def run():
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._start())
            except BaseException as e:  # e.g. the port is taken
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._udp.close()
            self._tcp_server.close()
            self._loop.run_until_complete(self._tcp_server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="dns-standin", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self):
        if self._loop and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self):
        return self.start() if self._thread is None else self

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--ttl", type=int, default=60)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--zone", help="JSON or text zone file")
    p.add_argument("--count-file", help="rewritten with the query counts 0.2 s after a query")
    p.add_argument("--log", action="store_true", help="one line per query on stderr")
    p.add_argument("names", nargs="*", metavar="NAME=SPEC")
    a = p.parse_args(argv)
    zone = load_zone(a.zone, a.ttl) if a.zone else {}
    for item in a.names:
        name, _, spec = item.partition("=")
        zone[name] = entry_from_spec(spec, a.ttl)
    standin = DnsStandin(zone, a.address, a.port, a.ttl, a.delay_ms, a.log, a.count_file).start()
    print(f"ready UDP+TCP {a.address}:{standin.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


if __name__ == "__main__":
    main()
