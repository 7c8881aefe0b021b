#!/usr/bin/env python3
"""The soak's fault proxy (Python 3 stdlib, asyncio), on loopback only. It sits between crier
and the receivers (receivers.py) and, while faults are on, injects at random:

HTTP (webhooks and the chat webhook), per request:
  latency      0.2–2 s before the request goes on
  slowloris    the request is read 32 bytes every 50 ms (the listening socket's receive
               buffer is small, so the sender really waits), then goes on
  reset_before the connection is reset after the request was read; the receiver never sees it
  reset_after  the request goes to the receiver, which accepts it; the connection is then reset
               instead of the answer being passed on (crier cannot know: in doubt)
  blackhole    the request is read and never answered (held up to 30 s)
  http_429     429 with Retry-After: 1 or 2 (not passed on)
  http_5xx     500, 502 or 503 (503 with Retry-After: 1) (not passed on)
SMTP, per connection or per message:
  smtp_421     the greeting is 421 (try later), then the connection closes
  smtp_blackhole  the connection is accepted and never greeted (held up to 30 s)
  smtp_451     MAIL FROM answered 451 by the proxy (not passed on)
  smtp_latency 0.2–2 s before MAIL FROM goes on
  smtp_reset_before  the connection is reset at MAIL FROM (nothing of the message went on)
  smtp_reset_after   the content went on and the server answered 250; the connection is reset
                     instead of passing the 250 on (in doubt)

Permanent failures, always (faults on or off), never by chance, so they can be counted: a
request whose path holds `/perm/` is answered 400, and every request to the listening address
GONE_HOST (127.0.0.99) is answered 410 Gone. (The SMTP receiver answers 550 to `bounce-*`.)

SIGUSR1 turns faults off for good. Counters go to STATS (JSON) every 2 s and at the end.

  proxy.py SMTP_FRONT SMTP_UP HTTP_FRONT HTTP_UP HTTP_HOSTS STATS SEED [MAX_SECONDS]

HTTP_FRONT is listened on at 127.0.0.1 … 127.0.0.HTTP_HOSTS and at 127.0.0.99.
"""

import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys
import time

GONE_HOST = "127.0.0.99"
LOCAL = "127.0.0.1"

HTTP_P = [  # (kind, probability per request)
    ("latency", 0.05),
    ("slowloris", 0.02),
    ("reset_before", 0.02),
    ("reset_after", 0.02),
    ("blackhole", 0.01),
    ("http_429", 0.03),
    ("http_5xx", 0.03),
]
# The chat channel sends one message per blast: its faults are twice as likely, so it meets them.
CHAT_FACTOR = 2.0
SMTP_CONN_P = [("smtp_421", 0.03), ("smtp_blackhole", 0.01)]
SMTP_MSG_P = [("smtp_451", 0.03), ("smtp_latency", 0.05), ("smtp_reset_before", 0.02), ("smtp_reset_after", 0.02)]

state = {"faults": True, "started": time.time(), "faults_off_at": None}
counts = {}
rng = random.Random()


def count(kind):
    counts[kind] = counts.get(kind, 0) + 1


def pick(table, factor=1.0):
    if not state["faults"]:
        return None
    r = rng.random()
    acc = 0.0
    for kind, p in table:
        acc += p * factor
        if r < acc:
            return kind
    return None


def reset(writer):
    """Close with a TCP RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def hold(reader, writer, seconds=30.0):
    """A black hole: read and drop whatever comes, answer nothing, until EOF or `seconds`."""
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            data = await asyncio.wait_for(reader.read(4096), max(0.01, end - time.monotonic()))
            if not data:
                break
    except (asyncio.TimeoutError, ConnectionError):
        pass
    writer.transport.abort()


class Buffered:
    """Reads from a StreamReader whose limit is small, so a slow reader really slows the peer."""

    def __init__(self, reader):
        self.reader = reader
        self.buf = b""

    async def fill(self, slow):
        data = await self.reader.read(32 if slow else 4096)
        if not data:
            raise EOFError
        if slow:
            await asyncio.sleep(0.05)
        self.buf += data

    async def request(self, slow=False):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise EOFError
            await self.fill(slow)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        self.buf = rest
        lines = head.decode("latin-1").split("\r\n")
        length = 0
        for h in lines[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(self.buf) < length:
            await self.fill(slow)
        body, self.buf = self.buf[:length], self.buf[length:]
        return lines[0], head + b"\r\n\r\n" + body


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for h in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = h.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    body = await reader.readexactly(length) if length else b""
    return head + body


def answer(status, reason, extra=""):
    body = f"soak proxy: {status} {reason}".encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {len(body)}\r\n"
        f"{extra}connection: close\r\n\r\n"
    ).encode() + body


async def http_session(reader, writer, host, up_port):
    conn = Buffered(reader)
    try:
        while True:
            slow = pick([("slowloris", dict(HTTP_P)["slowloris"])])
            try:
                line, raw = await asyncio.wait_for(conn.request(slow=bool(slow)), 120)
            except (EOFError, asyncio.TimeoutError, ConnectionError):
                return
            path = line.split(" ")[1] if " " in line else "/"
            if host == GONE_HOST:
                count("perm_410")
                writer.write(answer(410, "Gone"))
                await writer.drain()
                return
            if "/perm/" in path:
                count("perm_400")
                writer.write(answer(400, "Bad Request"))
                await writer.drain()
                return
            if slow:
                count("slowloris")
            factor = CHAT_FACTOR if path.startswith("/slack/") else 1.0
            fault = pick([p for p in HTTP_P if p[0] != "slowloris"], factor)
            if fault:
                count(fault)
            if fault == "reset_before":
                reset(writer)
                return
            if fault == "blackhole":
                await hold(reader, writer)
                return
            if fault == "http_429":
                writer.write(answer(429, "Too Many Requests", f"retry-after: {rng.choice([1, 2])}\r\n"))
                await writer.drain()
                return
            if fault == "http_5xx":
                status = rng.choice([500, 502, 503])
                extra = "retry-after: 1\r\n" if status == 503 else ""
                writer.write(answer(status, {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[status], extra))
                await writer.drain()
                return
            if fault == "latency":
                await asyncio.sleep(rng.uniform(0.2, 2.0))
            up_r, up_w = await asyncio.open_connection(LOCAL, up_port)
            try:
                up_w.write(raw)
                await up_w.drain()
                response = await asyncio.wait_for(read_response(up_r), 60)
            finally:
                up_w.close()
            if fault == "reset_after":
                reset(writer)
                return
            writer.write(response)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.close()


async def smtp_reply(reader):
    """One whole SMTP reply (every line of a multi-line one)."""
    out = b""
    while True:
        line = await reader.readline()
        if not line:
            raise EOFError
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out


async def smtp_session(reader, writer, up_port):
    up_w = None
    try:
        fault = pick(SMTP_CONN_P)
        if fault:
            count(fault)
        if fault == "smtp_421":
            writer.write(b"421 4.3.2 soak proxy: service not available, try again later\r\n")
            await writer.drain()
            writer.close()
            return
        if fault == "smtp_blackhole":
            await hold(reader, writer)
            return
        up_r, up_w = await asyncio.open_connection(LOCAL, up_port)
        writer.write(await smtp_reply(up_r))
        await writer.drain()
        pending_reset = False  # smtp_reset_after drawn at MAIL FROM: reset once the 250 comes
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                return
            verb = line[:4].upper()
            if verb == b"MAIL":
                fault = pick(SMTP_MSG_P)
                if fault:
                    count(fault)
                if fault == "smtp_451":
                    writer.write(b"451 4.3.0 soak proxy: temporary failure, try again later\r\n")
                    await writer.drain()
                    continue
                if fault == "smtp_reset_before":
                    reset(writer)
                    return
                if fault == "smtp_latency":
                    await asyncio.sleep(rng.uniform(0.2, 2.0))
                up_w.write(line)
                await up_w.drain()
                reply = await smtp_reply(up_r)
                writer.write(reply)
                await writer.drain()
                pending_reset = fault == "smtp_reset_after"
                continue
            up_w.write(line)
            await up_w.drain()
            reply = await smtp_reply(up_r)
            if verb == b"DATA" and reply.startswith(b"354"):
                writer.write(reply)
                await writer.drain()
                content = b""
                while True:
                    l = await asyncio.wait_for(reader.readline(), 120)
                    if not l:
                        return
                    content += l
                    if l in (b".\r\n", b".\n"):
                        break
                up_w.write(content)
                await up_w.drain()
                reply = await smtp_reply(up_r)
                if reply.startswith(b"250") and pending_reset:
                    reset(writer)
                    return
            writer.write(reply)
            await writer.drain()
            if verb == b"QUIT":
                return
    except (ConnectionError, EOFError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError):
        pass
    finally:
        if up_w is not None:
            up_w.close()
        if not writer.transport.is_closing():
            writer.close()


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Small receive buffers: a slow reader (slowloris) really holds the sender back.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((host, port))
    s.listen(1024)
    s.setblocking(False)
    return s


def dump(path):
    data = {"faults_on": state["faults"], "faults_off_at": state["faults_off_at"], "counts": counts}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


async def main():
    smtp_front, smtp_up, http_front, http_up, hosts = (int(a) for a in sys.argv[1:6])
    stats, seed = sys.argv[6], int(sys.argv[7])
    max_seconds = float(sys.argv[8]) if len(sys.argv) > 8 else 4 * 3600
    rng.seed(seed)
    loop = asyncio.get_running_loop()

    def faults_off():
        state["faults"] = False
        state["faults_off_at"] = time.time()
        dump(stats)

    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGUSR1, faults_off)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    servers = [await asyncio.start_server(lambda r, w: smtp_session(r, w, smtp_up), sock=listener(LOCAL, smtp_front))]
    for h in [f"127.0.0.{i}" for i in range(1, hosts + 1)] + [GONE_HOST]:
        servers.append(
            await asyncio.start_server(
                lambda r, w, h=h: http_session(r, w, h, http_up), sock=listener(h, http_front), limit=256
            )
        )
    print(f"proxy: SMTP {LOCAL}:{smtp_front} -> {smtp_up}, HTTP 127.0.0.1-{hosts}:{http_front} -> {http_up}", flush=True)
    end = time.monotonic() + max_seconds
    while not stop.is_set() and time.monotonic() < end:
        dump(stats)
        try:
            await asyncio.wait_for(stop.wait(), 2)
        except asyncio.TimeoutError:
            pass
    dump(stats)
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
