# The default SIEVE script: keep everything in INBOX (RFC 5228 section 2.10.2,
# implicit keep). SIEVE filtering arrives with its own issue; this file is shipped so
# that `mesyx sieve` has a starting point.
keep;
