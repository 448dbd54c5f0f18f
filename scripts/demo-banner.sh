#!/usr/bin/env bash
# Prints how to talk to the demo node that `make demo` starts.
# Usage: scripts/demo-banner.sh HOME PASSPHRASE_FILE ACCOUNT PORT_BASE
set -euo pipefail

home=${1:-./demo-home}
passfile=${2:-demo-home.passphrase}
account=${3:-demo@mesyx.test}
base=${4:-20000}
smtp=$((base + 25))
mesyx=.venv/bin/mesyx
passphrase="(see $passfile)"
if [ -r "$passfile" ]; then
    IFS= read -r passphrase <"$passfile" || true
fi

cat <<BANNER

  Mesyx demo node
  ---------------
  home        $home (port base $base, loopback only)
  account     $account
  passphrase  $passphrase (in $passfile; a demo passphrase, not a secret)

  Send it mail (SMTP, accept mode, on 127.0.0.1:$smtp):
    swaks --server 127.0.0.1:$smtp --to $account
    .venv/bin/python -c 'import smtplib; smtplib.SMTP("127.0.0.1", $smtp).sendmail("you@example.org", ["$account"], "Subject: hello\n\nHello, Mesyx.\n")'

  Read it, decrypted with the account passphrase (works while the daemon runs):
    $mesyx --home $home message list --passphrase-file $passfile
    $mesyx --home $home status --json

  Thunderbird, mbsync and other IMAP clients: client mode (IMAP on port $((base + 143)),
  submission on $((base + 587))) arrives in a later issue; until then mail is read with
  the command above.

  The daemon runs in the foreground below; Ctrl-C stops it cleanly.
  Start over with: make clean-demo && make demo

BANNER
