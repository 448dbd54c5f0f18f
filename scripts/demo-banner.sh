#!/usr/bin/env bash
# Prints how to talk to the demo node that `make demo` starts: SMTP in, and the settings
# of real IMAP clients (Thunderbird, mbsync, neomutt, curl) with this demo's ports.
# Usage: scripts/demo-banner.sh HOME PASSPHRASE_FILE ACCOUNT PORT_BASE
# tests/client_real/test_demo_banner.py runs the mbsync and neomutt settings it prints.
set -euo pipefail

home=${1:-./demo-home}
passfile=${2:-demo-home.passphrase}
account=${3:-demo@mesyx.test}
base=${4:-20000}
smtp=$((base + 25))
imap=$((base + 143))
imaps=$((base + 993))
mesyx=.venv/bin/mesyx
python=.venv/bin/python
passphrase="(see $passfile)"
if [ -r "$passfile" ]; then
    IFS= read -r passphrase <"$passfile" || true
fi

# Client configurations outlive the shell they were pasted from: absolute paths.
absolute() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
cert=$(absolute "$home")/tls/cert.pem
passfile_abs=$(absolute "$passfile")

# The SHA-256 fingerprint Thunderbird shows in its security-exception dialog.
fingerprint="(run: openssl x509 -in $cert -noout -fingerprint -sha256)"
if [ -r "$cert" ] && [ -x "$python" ]; then
    fingerprint=$("$python" - "$cert" <<'PY' 2>/dev/null || echo "$fingerprint"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
with open(sys.argv[1], "rb") as pem:
    digest = x509.load_pem_x509_certificate(pem.read()).fingerprint(hashes.SHA256())
print(":".join(f"{byte:02X}" for byte in digest))
PY
)
fi

cat <<BANNER

  Mesyx demo node
  ---------------
  home        $home (port base $base, loopback only)
  account     $account
  passphrase  $passphrase (in $passfile; a demo passphrase, not a secret)
  ports       SMTP $smtp (accept, STARTTLS), IMAP $imap (STARTTLS), IMAPS $imaps (TLS),
              submission $((base + 587)) (STARTTLS) and $((base + 465)) (TLS), REST $((base + 80)),
              ManageSieve $((base + 4190)) (STARTTLS), exchange $((base + 443)) (HTTPS, paired peers only:
              docs/sync-protocol.md; a second device: docs/devices.md)
  certificate $cert (self-signed)
              SHA-256 $fingerprint

  Send it mail (SMTP, accept mode, on 127.0.0.1:$smtp):
    swaks --server 127.0.0.1:$smtp --to $account
    $python -c 'import smtplib; smtplib.SMTP("127.0.0.1", $smtp).sendmail("you@example.org", ["$account"], "Subject: hello\n\nHello, Mesyx.\n")'

  Read it, decrypted with the account passphrase (works while the daemon runs):
    $mesyx --home $home message list --passphrase-file $passfile
    $mesyx --home $home status --json

  Thunderbird: Account Settings > Account Actions > Add Mail Account: name,
  $account, the passphrase above as password, then "Configure manually":
    Incoming  IMAP, server 127.0.0.1, port $imap, connection security STARTTLS
              (or port $imaps, SSL/TLS), authentication "Normal password",
              username $account
    Outgoing  SMTP, server 127.0.0.1, port $((base + 587)), STARTTLS, "Normal
              password", username $account (the server files the Sent copy itself:
              untick Copies & Folders > "Place a copy in")
  (or let the account wizard read http://127.0.0.1:$((base + 80))/.well-known/autoconfig/mail/config-v1.1.xml)

  Send as the account (SMTP submission, authenticated):
    swaks --server 127.0.0.1:$((base + 587)) -tls --auth PLAIN --auth-user $account --auth-password "\$(cat $passfile)" --from $account --to $account

  REST API (docs/rest.md; OpenAPI at http://127.0.0.1:$((base + 80))/openapi.json, browsable at /docs):
    curl -s http://127.0.0.1:$((base + 80))/v1/login -H 'Content-Type: application/json' -d '{"address": "$account", "password": "'"\$(cat $passfile)"'"}'
    then, with TOKEN=<the token it answers> and R=http://127.0.0.1:$((base + 80))/v1:
    curl -s \$R/mailboxes -H "Authorization: Bearer \$TOKEN"                       # mailboxes, with their ids
    curl -s "\$R/mailboxes/<id>/messages?limit=50" -H "Authorization: Bearer \$TOKEN"  # a page, newest first
    curl -s \$R/messages/<message id> -H "Authorization: Bearer \$TOKEN"               # one, decrypted, as JSON
    curl -s \$R/send -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"to": ["$account"], "subject": "hi", "text": "hello\\n"}'
    curl -sN \$R/events -H "Authorization: Bearer \$TOKEN"                            # changes as they happen (SSE)
  The certificate is self-signed: when Thunderbird shows "Add Security Exception",
  check that its SHA-256 fingerprint is the one above, tick "Permanently store this
  exception" and "Confirm Security Exception" (beforehand: Settings > Privacy &
  Security > Manage Certificates > Servers > Add Exception, location 127.0.0.1:$imaps).

  SIEVE filters (docs/sieve.md): try a shipped script on a message, then make it the
  account's active script, from the command line or over ManageSieve (Thunderbird's
  sieve add-on, Roundcube, sieve-connect):
    $mesyx sieve test sieve/lists.sieve MESSAGE.eml --to $account
    $mesyx --home $home sieve put --account $account lists sieve/lists.sieve --activate
    sieve-connect -s 127.0.0.1 -p $((base + 4190)) -u $account --notlsverify --list

  mbsync (Debian: isync): put these lines in ~/.mbsyncrc-mesyx, then
  mkdir -p ~/Mail/mesyx-demo && mbsync -c ~/.mbsyncrc-mesyx -a

    IMAPAccount mesyx-demo
    Host 127.0.0.1
    Port $imaps
    User $account
    PassCmd "cat '$passfile_abs'"
    SSLType IMAPS
    CertificateFile $cert

    IMAPStore mesyx-demo-remote
    Account mesyx-demo

    MaildirStore mesyx-demo-local
    Path ~/Mail/mesyx-demo/
    Inbox ~/Mail/mesyx-demo/INBOX
    SubFolders Verbatim

    Channel mesyx-demo
    Far :mesyx-demo-remote:
    Near :mesyx-demo-local:
    Patterns *
    Create Both
    Expunge Both
    SyncState *

  neomutt: put these lines in ~/.neomuttrc-mesyx, then run neomutt -F ~/.neomuttrc-mesyx

    set imap_user="$account"
    set imap_pass="\`cat '$passfile_abs'\`"
    set folder="imaps://127.0.0.1:$imaps/"
    set spoolfile="+INBOX"
    set record="+Sent"
    set postponed="+Drafts"
    set trash="+Trash"
    set ssl_force_tls=yes
    set certificate_file="$cert"

  curl: list the mailboxes, then fetch the message with UID 1 of INBOX:
    curl --cacert $cert --user '$account' imaps://127.0.0.1:$imaps/
    curl --cacert $cert --user '$account' 'imaps://127.0.0.1:$imaps/INBOX;UID=1'

  More in docs/clients.md. The daemon runs in the foreground below; Ctrl-C stops it
  cleanly. Start over with: make clean-demo && make demo

BANNER
