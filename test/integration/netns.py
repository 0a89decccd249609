"""A private network and mount namespace for tests that need their own DNS (as root, which CI
is): its own loopback (brought up), /etc/resolv.conf replaced by `nameserver 127.0.0.1` (bind-
mounted, seen only inside), optionally an /etc/hosts of the test's own, and a blackhole: an
interface on 10.99.0.254/24 behind which nothing answers, so a connect to BLACKHOLED sends
SYNs that simply vanish (no refusal, no ICMP): the "silently dropping" server; and
PEER_ADDRESS on lo beside 127.0.0.1, for SMTP peers that must not be loopback. Nothing inside
can reach beyond the machine, and nothing outside sees the namespace.

In a test module (ctest runs `python3 -m unittest test_x` as a process of its own):
    def setUpModule(): netns.enter()       # before any thread starts; children inherit it
As a command (bench scripts):
    netns.py [--nameserver IP] [--hosts FILE] [--no-blackhole] -- COMMAND [ARG...]
(`unshare -m -n` would do the namespaces too; here it is one call, and the same code for both.)
"""

import ctypes
import errno
import os
import subprocess
import sys
import tempfile
import threading

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
BLACKHOLE_NET = "10.99.0.254/24"
BLACKHOLED = "10.99.0.1"  # connecting here hangs until the caller gives up
# A second local address (on lo, /32) for SMTP peers that must not be loopback: resolvers sort
# addresses by RFC 6724, which puts 127.0.0.1 (link-local scope) before 10.99.0.1, whatever
# the DNS answer's order; between two global-scope IPv4 addresses c-ares keeps that order.
PEER_ADDRESS = "10.98.0.1"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
entered = False


def _check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}" + (" (run as root)" if e == errno.EPERM else ""))


def _shared_mounts():
    with open("/proc/self/mountinfo") as info:
        return [line for line in info if " shared:" in line.split(" - ")[0]]


def _bind_file(text, target):
    """Mounts a file holding `text` over `target`, in this mount namespace only."""
    fd, path = tempfile.mkstemp(prefix="netns-", suffix=os.path.basename(target))
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    try:
        _check(_libc.mount(path.encode(), target.encode(), None, MS_BIND, None), f"bind mount over {target}")
    finally:
        os.unlink(path)  # the mount keeps the inode


def add_blackhole(cidr=BLACKHOLE_NET, name="bh0"):
    """An interface holding `cidr` with nothing behind it. A dummy interface where the kernel
    has one; else a veth pair without ARP (frames go to the peer, which drops them: not its
    address, no forwarding); else a tun device nobody reads. Returns the kind used."""
    ip = lambda *a: subprocess.run(["ip", *a], capture_output=True, text=True)
    attempts = [("dummy", [["link", "add", name, "type", "dummy"]]),
                ("veth", [["link", "add", name, "type", "veth", "peer", "name", name + "p"],
                          ["link", "set", name, "arp", "off"], ["link", "set", name + "p", "up"]]),
                ("tun", [["tuntap", "add", name, "mode", "tun"]])]
    errors = []
    for kind, steps in attempts:
        out = None
        for step in steps:
            out = ip(*step)
            if out.returncode != 0:
                break
        if out.returncode == 0:
            for step in (["link", "set", name, "up"], ["addr", "add", cidr, "dev", name]):
                out = ip(*step)
                if out.returncode != 0:
                    raise RuntimeError(f"ip {' '.join(step)}: {out.stderr.strip()}")
            return kind
        errors.append(f"{kind}: {out.stderr.strip()}")
        ip("link", "del", name)
    raise RuntimeError("no blackhole interface: " + "; ".join(errors))


def enter(nameserver="127.0.0.1", hosts=None, blackhole=True, peer_address=True):
    """Moves this process into a new network and mount namespace and sets it up (see above).
    Call it while the process has one thread: threads started before stay outside."""
    global entered
    if entered:
        return
    if threading.active_count() != 1:
        raise RuntimeError("netns.enter() must run before any thread is started")
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare(CLONE_NEWNS | CLONE_NEWNET)")
    # Mounts made here must not propagate back. In a chroot "/" is no mount point and cannot
    # be made private (EINVAL), but then, with no shared mount at all, nothing propagates
    # (the same reasoning as test_abuse.py ManyAddresses' `--propagation unchanged`).
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        if _shared_mounts():
            _check(-1, "mount --make-rprivate / (shared mounts exist, so the namespace would leak)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if peer_address:
        subprocess.run(["ip", "addr", "add", PEER_ADDRESS + "/32", "dev", "lo"], check=True)
    _bind_file(f"nameserver {nameserver}\n", "/etc/resolv.conf")
    if hosts is not None:
        _bind_file(hosts, "/etc/hosts")
    if blackhole:
        add_blackhole()
    entered = True


def main(argv):
    args, command = argv, []
    if "--" in argv:
        i = argv.index("--")
        args, command = argv[:i], argv[i + 1:]
    nameserver, hosts, blackhole = "127.0.0.1", None, True
    while args:
        a = args.pop(0)
        if a == "--nameserver":
            nameserver = args.pop(0)
        elif a == "--hosts":
            with open(args.pop(0)) as f:
                hosts = f.read()
        elif a == "--no-blackhole":
            blackhole = False
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    enter(nameserver, hosts, blackhole)
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
