#include "send/bounce.h"

#include <cstdio>

#include "addr/addr.h"
#include "home/home.h"
#include "send/route.h"

namespace qmail::send {

std::string bounce_paragraph(std::string_view recipient, std::string_view report) {
  std::string out = "<";
  // As qmail-send: a newline in the address would end the "<rcpt>:" line.
  for (char c : recipient) out += c == '\n' ? '_' : c;
  out += ">:\n";
  for (char c : report)
    if (c != '\0') out += c;
  if (out.back() != '\n') out += '\n';
  // QSBMF: a paragraph is non-blank lines and then one blank line; empty
  // lines that end the report say nothing (qmail kept them).
  while (out.size() > 2 && out.ends_with("\n\n")) out.pop_back();
  // As qmail-send: the second newline of every pair but the last newline
  // becomes "/", so that in QSBMF only the paragraph's end is an empty line.
  for (std::size_t i = out.size() - 2; i > 0; --i)
    if (out[i] == '\n' && out[i - 1] == '\n') out[i] = '/';
  out += '\n';
  return out;
}

std::string_view bounce_recipient_of(std::string_view sender) {
  // qmail-send: a VERP sender "owner-@host-@[]" bounces to "owner-@host".
  if (sender.ends_with(kVerpSuffix)) sender.remove_suffix(kVerpSuffix.size());
  return sender;
}

Result<BounceConfig> load_bounce_config() {
  BounceConfig c;
  QMAIL_ASSIGN_OR_RETURN(auto me, control::me());
  c.me = me && !me->empty() ? *me : "me";
  QMAIL_ASSIGN_OR_RETURN(c.bouncefrom, control::read_line_or("bouncefrom", "MAILER-DAEMON"));
  QMAIL_ASSIGN_OR_RETURN(c.bouncehost, control::read_line_or_me("bouncehost", "bouncehost"));
  QMAIL_ASSIGN_OR_RETURN(c.doublebounceto, control::read_line_or("doublebounceto", "postmaster"));
  QMAIL_ASSIGN_OR_RETURN(c.doublebouncehost,
                         control::read_line_or_me("doublebouncehost", "doublebouncehost"));
  QMAIL_ASSIGN_OR_RETURN(c.maxbytes, control::read_uint("bouncemaxbytes", kDefaultBounceMaxBytes));
  return c;
}

std::string rfc5322_date(std::time_t t) {
  struct tm tm;
  gmtime_r(&t, &tm);
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d %s %d %02d:%02d:%02d -0000", tm.tm_mday, kMonths[tm.tm_mon],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

BouncePlan plan_bounce(const BounceConfig& c, std::string_view sender, std::string_view paragraphs,
                       std::time_t now) {
  BouncePlan p;
  sender = bounce_recipient_of(sender);
  if (sender == kDoubleBounceSender) {
    p.discard = true;
    return p;
  }
  bool dbl = sender.empty();
  if (dbl) {
    p.envelope_sender = std::string(kDoubleBounceSender);
    p.recipient = c.doublebounceto + "@" + c.doublebouncehost;
  } else {
    p.recipient = std::string(sender);
  }
  std::string& h = p.head;
  h += "Date: " + rfc5322_date(now) + "\n";
  h += "From: " + addr::quote_local(c.bouncefrom) + "@" + c.bouncehost + "\n";
  h += "To: " + addr::quote(p.recipient) + "\n";
  h += "Subject: failure notice\n";
  h += "\n";
  // qmail-send(8) names bouncehost here (control/me only by default).
  h += "Hi. This is the qmail-send program at " + c.bouncehost + ".\n";
  if (dbl) {
    h += "I tried to deliver a bounce message to this address, but the bounce bounced!\n";
  } else {
    h += "I'm afraid I wasn't able to deliver your message to the following addresses.\n";
    h += "This is a permanent error; I've given up. Sorry it didn't work out.\n";
  }
  h += "\n";
  h += paragraphs;
  h += dbl ? "--- Below this line is the original bounce.\n\n"
           : "--- Below this line is a copy of the message.\n\n";
  // As qmail-send, the copy starts with the envelope sender it came from.
  h += "Return-Path: <" + addr::quote(sender) + ">\n";
  return p;
}

}  // namespace qmail::send
