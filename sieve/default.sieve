# The default SIEVE script of a Mesyx account: everything goes to INBOX.
#
# RFC 5228 section 2.10.2: a script that takes no action keeps the message in INBOX
# ("implicit keep"). Mesyx runs this when an account has no active script of its own.
# Start from lists.sieve or spam.sieve in this folder, check a script with
#   mesyx sieve check FILE
# try it on a message with
#   mesyx sieve test FILE MESSAGE.eml --from sender@example.org --to you@example.com
# and upload it with `mesyx sieve put` or any ManageSieve client (port base + 4190).
keep;
