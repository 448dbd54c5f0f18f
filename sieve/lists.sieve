# Sort mailing-list mail into one folder per list: "Lists/<list>".
#
# The list is recognised by its List-Id header (RFC 2919: "Name <list-id.example.org>"),
# else by List-Post or a Sender of the form owner-<list>@... / <list>-bounces@... .
# The folder is created on first use (RFC 5490 :create). Mail that is not list mail
# stays in INBOX (implicit keep).
require ["fileinto", "mailbox", "variables", "regex"];

# List-Id: Some Name <dev.lists.example.org>  ->  Lists/dev
if header :regex "list-id" "<([A-Za-z0-9_-]+)[.@]" {
  set :lower "list" "${1}";
  fileinto :create "Lists/${list}";
  stop;
}

# List-Post: <mailto:dev@lists.example.org>  ->  Lists/dev
if header :regex "list-post" "<mailto:([A-Za-z0-9_.-]+)@" {
  set :lower "list" "${1}";
  fileinto :create "Lists/${list}";
  stop;
}

# Older lists without RFC 2369/2919 headers.
if anyof (address :localpart :matches "sender" "owner-*",
          address :localpart :matches "sender" "*-bounces") {
  if address :localpart :matches "sender" ["owner-*", "*-bounces"] {
    set :lower "list" "${1}";
    fileinto :create "Lists/${list}";
  }
}
