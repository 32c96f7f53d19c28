"""An SMTP server for tests: stores every message it accepts, one JSON file
each, and answers chosen recipients with errors.

    smtp_sink.py --out DIR [--port N] [--fail RCPT=CODE[:TIMES]]... [--delay S]
                 [--auth USER:PASSWORD]

Prints "PORT <n>" on stdout once it accepts connections (--port 0, the
default, picks a free port). Each accepted message becomes DIR/<n>.json with
the envelope ("mail_from", "rcpt_tos"), the raw message ("data"), its parsed
"headers" (name/value pairs, in order, values decoded from RFC 2047),
"subject", "content_type", "body" (the text/plain content, decoded), "html"
(the text/html part, or null) and "parts" (the content types of a multipart
message's parts, in order). --fail answers RCPT TO for that address with
CODE (e.g. 451 or 550), for the first TIMES tries or forever; the reply quotes
the address, as real servers do (and as a sender must never log). --delay waits
before answering DATA, so that tests can catch a sender with mail in flight.
--auth requires SMTP AUTH with these credentials (over plain text: tests only).
"""

import argparse
import asyncio
import email
import email.policy
import itertools
import json
import os
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

REPLIES = {
    421: "421 4.3.2 Service not available",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary failure, try again later",
    452: "452 4.2.2 Mailbox full",
    550: "550 5.1.1 No such user here",
    551: "551 5.1.6 User has moved",
    552: "552 5.2.2 Mailbox full for good",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.7.1 Rejected",
}


class Sink:
    def __init__(self, out, failures, delay):
        self.out = out
        # address -> [code, remaining failures or None for forever]
        self.failures = failures
        self.delay = delay
        self.numbers = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        failure = self.failures.get(address.lower())
        if failure is not None and failure[1] != 0:
            if failure[1] is not None:
                failure[1] -= 1
            return f"{REPLIES[failure[0]]}: <{address}>"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": raw.decode("utf-8", errors="replace"),
            "headers": [[name, str(value)] for name, value in parsed.items()],
            "subject": str(parsed.get("Subject", "")),
            "content_type": parsed.get_content_type(),
            "body": text_part(parsed, "plain"),
            "html": text_part(parsed, "html") or None,
            "parts": [part.get_content_type() for part in parsed.iter_parts()],
        }
        path = os.path.join(self.out, f"{next(self.numbers)}.json")
        # Written aside and renamed, so that readers never see half a file.
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 2.0.0 Message accepted"


def text_part(message, subtype):
    """The decoded text/<subtype> content: the message itself when it is not
    multipart, else its part of that type ("" when there is none)."""
    if not message.is_multipart():
        return message.get_content() if message.get_content_subtype() == subtype else ""
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


def parse_failure(text):
    address, _, reply = text.partition("=")
    code, _, times = reply.partition(":")
    if int(code) not in REPLIES:
        raise argparse.ArgumentTypeError(f"unsupported reply code {code}")
    return address.lower(), [int(code), int(times) if times else None]


def authenticator_for(credentials):
    user, _, password = credentials.partition(":")

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return authenticate


async def serve(args):
    loop = asyncio.get_running_loop()
    sink = Sink(args.out, dict(args.fail), args.delay)
    options = {}
    if args.auth:
        options = {
            "auth_required": True,
            "auth_require_tls": False,
            "authenticator": authenticator_for(args.auth),
        }
    server = await loop.create_server(
        lambda: SMTP(sink, hostname="sink.test", enable_SMTPUTF8=True, loop=loop, **options),
        host="127.0.0.1",
        port=args.port,
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail", type=parse_failure, action="append", default=[])
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--auth")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
