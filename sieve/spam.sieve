# File likely spam into Junk, by the spam score the pipeline's scorer (or an upstream
# filter such as SpamAssassin or Rspamd) wrote into X-Spam-Score.
#
# spamtest (RFC 5235) reads that score on a 0-10 scale in Mesyx (see docs/sieve.md);
# with spamtestplus, :percent gives 0-100. A score of 0 means "not tested".
#   score >= 8: discard-worthy, but we never discard unseen: Junk, marked read
#   score >= 5: Junk, left unread so you see what it caught
# Mail flagged by an upstream filter with "X-Spam-Flag: YES" also goes to Junk.
require ["fileinto", "imap4flags", "relational", "comparator-i;ascii-numeric", "spamtest"];

if spamtest :value "ge" :comparator "i;ascii-numeric" "8" {
  fileinto :flags "\\Seen" "Junk";
  stop;
}
if anyof (spamtest :value "ge" :comparator "i;ascii-numeric" "5",
          header :is "x-spam-flag" "YES") {
  fileinto "Junk";
  stop;
}
