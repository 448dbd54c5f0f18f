"""Messages for the MIME tests: imaptest's FETCH fixtures, RFC examples and tricky mail."""

from __future__ import annotations


def crlf(text: str) -> bytes:
    """``text`` with every LF made CRLF, as bytes (UTF-8)."""
    return text.replace("\n", "\r\n").encode("utf-8")


# imaptest's fetch-body-mime.mbox (Dovecot's imaptest, MIT licence), CRLF.
NESTED = crlf(
    """From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo
 bar"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii

hello

--foo bar
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary="sub1"

Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue

--foo bar--
Root MIME epilogue
"""
)

# imaptest's fetch-body-message-rfc822-mime.mbox: message/rfc822 holding a multipart/digest.
DIGEST = crlf(
    """From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/digest; boundary="foo"

prologue

--foo\x20

From: m1@example.com
Subject: m1

m1 body

--foo\x20
X-Mime: m2 header

From: m2@example.com
Subject: m2

m2 body

--foo--

epilogue
"""
)

# imaptest's fetch-body-message-rfc822-x2.mbox: message/rfc822 inside message/rfc822.
RFC822_X2 = crlf(
    """From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: user2@domain.org
Date: Fri, 23 Mar 2007 11:22:33 +0200
Mime-Version: 1.0
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg

Hello world
"""
)

# imaptest's fetch-binary-mime-base64.mbox.
BASE64_PARTS = crlf(
    """From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo
 bar"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: base64


aGVs
bG8gd29y
bGQ=

--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: base64

  aGVs\x20\x20\x20\x20
 bG8g\x20\x20
   d29y  \t\x20
    bGQ=\x20


--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: base64

aGVsbG8g
dG8geW91IHRv
bw==

--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: base64

aGVsbG8gdG8gZXZlcnlvbmUh
--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: base64

YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6

--foo bar--
Root MIME epilogue
"""
)

# imaptest's fetch-binary-mime-qp.mbox.
QP_PART = crlf(
    """From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary="foo
 bar"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

hello\x20\x20
bar=

foo\t=
bar
foo\t \t=\x20
=62
foo = \t
bar
foo =
=62
foo\x20\x20
bar=

foo_bar

--foo bar--
Root MIME epilogue
"""
)

# imaptest's fetch-envelope.mbox, one message per entry.
ENVELOPES = [
    crlf(
        """Message-ID: <msg@id>
In-Reply-To: <reply@to.id>
Date: Thu, 15 Feb 2007 01:02:03 +0200
Subject: subject header
From: From Real <fromuser@fromdomain.org>
To: To Real <touser@todomain.org>
Cc: Cc Real <ccuser@ccdomain.org>
Bcc: Bcc Real <bccuser@bccdomain.org>
Sender: Sender Real <senderuser@senderdomain.org>
Reply-To: ReplyTo Real <replytouser@replytodomain.org>

body
"""
    ),
    crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain\n\nbody\n"),
    crlf(
        """Date: Thu, 15 Feb 2007 01:02:03 +0200
From: user@domain (Real Name)
To: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;
Cc: group:;, group2: (foo) ;

body
"""
    ),
    crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: user@domain (Real Name)\nSender: \nReply-To: \n\nbody\n"),
    crlf("Date: Thu, 15 Feb 2007 01:02:03 +0200\nFrom: <@route:user@domain>\n\nbody\n"),
]

ENVELOPES_EXPECTED = [
    b'("Thu, 15 Feb 2007 01:02:03 +0200" "subject header" (("From Real" NIL "fromuser" "fromdomain.org"))'
    b' (("Sender Real" NIL "senderuser" "senderdomain.org")) (("ReplyTo Real" NIL "replytouser" "replytodomain.org"))'
    b' (("To Real" NIL "touser" "todomain.org")) (("Cc Real" NIL "ccuser" "ccdomain.org"))'
    b' (("Bcc Real" NIL "bccuser" "bccdomain.org")) "<reply@to.id>" "<msg@id>")',
    b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user" "domain")) ((NIL NIL "user" "domain"))'
    b' ((NIL NIL "user" "domain")) NIL NIL NIL NIL NIL)',
    b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain"))'
    b' (("Real Name" NIL "user" "domain")) ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")'
    b'(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))'
    b' ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)',
    b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain"))'
    b' (("Real Name" NIL "user" "domain")) NIL NIL NIL NIL NIL)',
    b'("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain"))'
    b' ((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL)',
]


def rfc3501_plain() -> bytes:
    """A message whose ENVELOPE and BODY are RFC 3501 section 7.4.2's FETCH example."""
    header = crlf(
        """Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev1 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
Content-Transfer-Encoding: 7BIT

"""
    )
    # 92 lines, 3028 octets: 91 lines of 31 characters and one of 23, each with CRLF.
    body = b"".join(b"x" * 31 + b"\r\n" for _ in range(91)) + b"y" * 23 + b"\r\n"
    return header + body


RFC3501_ENVELOPE = (
    b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes"'
    b' (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu"))'
    b' (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu"))'
    b' ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL'
    b' "<B27397-0100000@cac.washington.edu>")'
)
RFC3501_BODY = b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)'


def rfc3501_multipart() -> bytes:
    """A message whose BODY is RFC 3501 section 7.4.2's multipart example."""
    head = crlf(
        """From: a@example.org
MIME-Version: 1.0
Content-Type: MULTIPART/MIXED; BOUNDARY="xyz"

preamble
--xyz
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
Content-Transfer-Encoding: 7BIT

"""
    )
    # 23 lines, 1152 octets.
    text = b"".join(b"t" * 48 + b"\r\n" for _ in range(22)) + b"u" * 50 + b"\r\n"
    mid = crlf(
        """
--xyz
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff
Content-ID: <960723163407.20117h@cac.washington.edu>
Content-Description: Compiler diff
Content-Transfer-Encoding: BASE64

"""
    )
    # 73 lines, 4554 octets.
    b64 = b"".join(b"A" * 60 + b"\r\n" for _ in range(66)) + b"".join(b"B" * 64 + b"\r\n" for _ in range(7))
    return head + text + mid + b64 + crlf("\n--xyz--\n")


RFC3501_MULTIPART_BODY = (
    b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
    b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>"'
    b' "Compiler diff" "BASE64" 4554 73) "MIXED")'
)

# A realistic mixed message: text + HTML alternative, a base64 attachment with RFC 2231
# parameters, a forwarded message with a quoted-printable body, encoded words everywhere.
FORWARD = crlf(
    """Return-Path: <alice@example.org>
From: =?UTF-8?Q?Al=C3=AFce?= <alice@example.org>
To: "Bob, the builder" <bob@example.net>, carol@example.com
Subject: =?UTF-8?B?R3LDvMOfZQ==?= and =?ISO-8859-1?Q?caf=E9?=
 continued
Date: Mon, 3 Mar 2025 10:00:00 +0100
Message-ID: <fwd-1@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed;
 boundary="==outer=="
Content-Language: en, de

This is a multi-part message in MIME format.
--==outer==
Content-Type: multipart/alternative; boundary="==alt=="

--==alt==
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Gr=C3=BC=C3=9Fe aus K=C3=B6ln, see attached.=
 More text.
--==alt==
Content-Type: text/html; charset=utf-8

<p>Hello <b>world</b></p>
--==alt==--
--==outer==
Content-Type: application/pdf; name*0="report";
 name*1=".pdf"
Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf
Content-Transfer-Encoding: base64
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Location: http://example.org/report.pdf

JVBERi0xLjQKJcOkw7zDtsOfCg==
--==outer==
Content-Type: message/rfc822
Content-Disposition: inline

From: Dave <dave@example.com>
Subject: inner
Date: Sun, 2 Mar 2025 09:00:00 +0000
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Ol=E9, secret word: zanzibar
--==outer==--
epilogue
"""
)

NO_HEADERS = b"\r\nJust a body, no header at all.\r\n"
ONLY_HEADERS = b"Subject: no body\r\nFrom: a@b.c"
EMPTY = b""

BARE_LF = (
    b"From: lf@example.org\nSubject: bare LF\nContent-Type: multipart/mixed; boundary=b1\n\n"
    b"--b1\nContent-Type: text/plain\n\none\ntwo\n\n--b1\nContent-Type: text/plain\n\nthree\n--b1--\n"
)

# The closing boundary is missing; the inner multipart's closing boundary too.
MISSING_CLOSE = crlf(
    """Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

first
--inner
Content-Type: text/plain

second
--outer
Content-Type: text/plain

third
"""
)

EIGHT_BIT_HEADERS = (
    "From: Jörg Müller <joerg@example.de>\r\nSubject: Grüße\r\nTo: ünïcode <u@example.de>\r\n\r\nText\r\n".encode()
)
LATIN1_HEADERS = b"From: J\xf6rg <j@example.de>\r\nSubject: Gr\xfc\xdfe\r\n\r\nText\r\n"
