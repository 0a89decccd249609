"""A small SMTP sink for bench/inflight: answers every command after DELAY seconds, so that
many tests stay in flight at once. Accepts everything, keeps nothing. Debian's Python only.
usage: /usr/bin/python3 bench/delaying_sink.py PORT DELAY"""

import asyncio
import resource
import sys


async def client(reader, writer, delay):
    async def say(text):
        await asyncio.sleep(delay)
        writer.write(text)
        await writer.drain()

    try:
        await say(b"220 delaying-sink ESMTP\r\n")
        in_data = False
        while True:
            line = await reader.readline()
            if not line:
                break
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    await say(b"250 2.0.0 Ok\r\n")
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                await say(b"250-delaying-sink\r\n250 PIPELINING\r\n")
            elif verb == b"DATA":
                in_data = True
                await say(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                await say(b"221 bye\r\n")
                break
            else:
                await say(b"250 Ok\r\n")
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(port, delay):
    server = await asyncio.start_server(lambda r, w: client(r, w, delay), "127.0.0.1", port, backlog=16384)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
