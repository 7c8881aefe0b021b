#!/usr/bin/env python3
"""The soak's receivers, on loopback only: an SMTP server and an HTTP server (Python 3 stdlib,
asyncio). Every message they accept is written, before the answer that accepts it, as one JSON
line to LOG:

  {"ch": "email", "rcpt": "person7@example.com", "id": "<key@soak.example>", "round": 3, "t": …}
  {"ch": "hook",  "rcpt": "cus_7", "id": "msg_<key>", "round": 3, "t": …}
  {"ch": "chat",  "rcpt": "*", "id": "", "round": 3, "t": …}

`round` is N from the text "Soak round N" in the message (the blast's content), so a chat
message, which has no id, is told apart by the blast it belongs to.

The permanent failures the soak expects come from fixed recipients, never from chance: the SMTP
server answers 550 to RCPT TO of any address starting with `bounce-`. (The HTTP ones, 400 and
410, are answered by the proxy: see proxy.py.)

  receivers.py SMTP_PORT HTTP_PORT LOG
"""

import asyncio
import email
import email.policy
import json
import re
import sys
import time

ROUND = re.compile(rb"Soak round (\d+)")
ROUND_TEXT = re.compile(r"Soak round (\d+)")
LIMIT = 1 << 20


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def write(self, **record):
        record["t"] = round(time.time(), 3)
        self.f.write(json.dumps(record) + "\n")
        self.f.flush()


async def smtp_session(reader, writer, log):
    async def reply(text):
        writer.write(text.encode() + b"\r\n")
        await writer.drain()

    try:
        await reply("220 soak.receiver ESMTP ready")
        mail_from, rcpts = None, []
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb in ("EHLO",):
                await reply("250-soak.receiver\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 10485760")
            elif verb == "HELO":
                await reply("250 soak.receiver")
            elif verb == "MAIL":
                mail_from, rcpts = cmd, []
                await reply("250 2.1.0 ok")
            elif verb == "RCPT":
                m = re.search(r"<([^>]*)>", cmd)
                addr = m.group(1) if m else ""
                if mail_from is None:
                    await reply("503 5.5.1 MAIL first")
                elif addr.lower().startswith("bounce-"):
                    await reply("550 5.1.1 no such user (the soak's permanent failure)")
                else:
                    rcpts.append(addr)
                    await reply("250 2.1.5 ok")
            elif verb == "DATA":
                if not rcpts:
                    await reply("554 5.5.1 no valid recipients")
                    continue
                await reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while True:
                    l = await asyncio.wait_for(reader.readline(), 120)
                    if not l:
                        return  # the connection broke during the content: nothing accepted
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    lines.append(l)
                raw = b"".join(lines)
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                text = ""
                for part in msg.walk():
                    if part.get_content_type() == "text/plain":
                        text = part.get_content()
                        break
                m = ROUND_TEXT.search(text)
                mid = str(msg.get("Message-ID", "")).strip()
                for r in rcpts:
                    log.write(ch="email", rcpt=r, id=mid, round=int(m.group(1)) if m else None)
                await reply("250 2.0.0 queued")
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                await reply("250 2.0.0 reset")
            elif verb == "NOOP":
                await reply("250 2.0.0 ok")
            elif verb == "QUIT":
                await reply("221 2.0.0 bye")
                return
            else:
                await reply("502 5.5.2 not implemented")
    except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def read_http_request(reader):
    """(request line, headers dict, body) or None at EOF."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for h in lines[1:]:
        if ":" in h:
            k, v = h.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = await reader.readexactly(n) if n else b""
    return lines[0], headers, body


async def http_session(reader, writer, log):
    try:
        while True:
            try:
                line, headers, body = await asyncio.wait_for(read_http_request(reader), 120)
            except (asyncio.IncompleteReadError, asyncio.TimeoutError):
                return
            parts = line.split(" ")
            path = parts[1] if len(parts) > 1 else "/"
            m = ROUND.search(body)
            rnd = int(m.group(1)) if m else None
            if path.startswith("/hook/"):
                log.write(ch="hook", rcpt=path.rsplit("/", 1)[-1], id=headers.get("webhook-id", ""), round=rnd)
            elif path.startswith("/slack/"):
                log.write(ch="chat", rcpt="*", id="", round=rnd)
            else:
                log.write(ch="other", rcpt=path, id="", round=rnd)
            answer = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    smtp_port, http_port, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    log = Log(path)
    smtp = await asyncio.start_server(lambda r, w: smtp_session(r, w, log), "127.0.0.1", smtp_port, limit=LIMIT)
    http = await asyncio.start_server(lambda r, w: http_session(r, w, log), "127.0.0.1", http_port, limit=LIMIT)
    print(f"receivers: SMTP 127.0.0.1:{smtp_port}, HTTP 127.0.0.1:{http_port}, log {path}", flush=True)
    async with smtp, http:
        # Bounded: the soak script stops us; this is the backstop.
        await asyncio.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 4 * 3600)


if __name__ == "__main__":
    asyncio.run(main())
