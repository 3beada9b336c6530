// eck-tap: watch the event stream.
//
//   eck-tap                             # live, from the current head
//   eck-tap --from 1 --topic pos.       # the whole journal of pos.*, then live
//   eck-tap --stats                     # events per second per topic
//
// Follows the journal with eck::Follower (the same code the Consumer uses):
// replay from --from, then the live feed, with every lost message repaired
// from replay, so what it prints is every matching event in seq order, once.
// One JSON object per line on stdout (see kUsage); logs go to stderr.
// Exit status: 0 after --count events or on SIGINT/SIGTERM, 1 on an
// unexpected error, 2 for bad arguments.
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <zmq.hpp>

#include "eck/args.h"
#include "eck/daemon.h"
#include "eck/events.h"
#include "eck/follower.h"
#include "eck/log.h"
#include "eck/v1/wire.pb.h"
#include "eck/wire.h"

namespace {

constexpr const char* kUsage = R"(usage: eck-tap [options]
Prints journal events as JSON lines, in seq order, each once: replayed from
the journal with --from, then live; whatever the live feed loses is fetched
again from the journal.

  --fanout URL       broker fan-out endpoint (default tcp://127.0.0.1:5571)
  --replay URL       broker replay endpoint (default tcp://127.0.0.1:5572)
  --topic PREFIX     only topics starting with PREFIX (repeatable; default all)
  --from SEQ         start with journal event SEQ (replayed), then follow live;
                     0 and 1 mean the whole journal. Without --from: live only,
                     starting at the broker's current head
  --count N          exit (status 0) after printing N events
  --stats            instead of events, print once a second one line per topic
                     seen so far:
                       {"t":"2026-01-31T12:00:00Z","topic":"pos.SaleCompleted","events_per_s":123}
                     (events delivered in the last second, replayed ones
                     included; "t" is UTC). Not with --count or --heartbeats
  --heartbeats       also print the broker's heartbeats as they arrive live:
                       {"seq":<head>,"topic":"_eck.heartbeat","heartbeat":{...}}
                     (also on when a --topic prefix matches "_eck.heartbeat")
  --log-level LEVEL  stderr logging: trace, debug, info, warn (default), error, off
  --version, --help

Event lines:
  {"seq":12,"topic":"pos.SaleCompleted","event_id":"...","source":"...",
   "type":"eck.v1.SaleCompleted","subject":"...","occurred_at":"...",
   "correlation_id":"...","causation_id":"...","payload":{...}}
seq, topic and event_id are always printed; the other envelope attributes
only when set. payload is the event message in protobuf JSON (field names as
in the .proto files; 64-bit integers as strings), null when the envelope
carries no payload this build knows. An event that cannot be shown prints
  {"seq":12,"topic":"...","error":"<why>","size":<envelope bytes>}
instead. stdout is line-buffered. SIGINT and SIGTERM exit with status 0.
)";

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_signal(int) { g_stop = 1; }

// ---- JSON ----------------------------------------------------------------

// Appends s as a JSON string. Bytes that are not UTF-8 become U+FFFD.
void json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF)
    // is copied; anything else is replaced byte by byte.
    std::size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && len >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xe0 && c1 < 0xa0) ok = false;   // overlong
      if (c == 0xed && c1 >= 0xa0) ok = false;  // surrogate
      if (c == 0xf0 && c1 < 0x90) ok = false;   // overlong
      if (c == 0xf4 && c1 >= 0x90) ok = false;  // beyond U+10FFFF
    }
    if (!ok) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  out.push_back('"');
}

void json_key(std::string& out, std::string_view key) {
  out.push_back(',');
  json_string(out, key);
  out.push_back(':');
}

// Optional string attribute: printed only when set.
void json_attr(std::string& out, std::string_view key, const std::string& value) {
  if (value.empty()) return;
  json_key(out, key);
  json_string(out, value);
}

std::string head_of_line(std::uint64_t seq, std::string_view topic) {
  std::string out = "{\"seq\":" + std::to_string(seq);
  json_key(out, "topic");
  json_string(out, topic);
  return out;
}

std::string error_line(const eck::Event& ev, std::string_view why) {
  std::string out = head_of_line(ev.seq, ev.topic);
  json_key(out, "error");
  json_string(out, why);
  out += ",\"size\":" + std::to_string(ev.raw.size()) + "}";
  return out;
}

std::string event_line(const eck::FollowedEvent& fe) {
  const eck::Event& ev = fe.event;
  if (!fe.undecodable.empty()) return error_line(ev, fe.undecodable);
  const eck::v1::Envelope& env = ev.envelope;
  try {
    std::string out = head_of_line(ev.seq, ev.topic);
    json_key(out, "event_id");
    json_string(out, env.event_id());
    json_attr(out, "source", env.source());
    json_attr(out, "type", env.type());
    json_attr(out, "subject", env.subject());
    if (env.has_occurred_at()) {
      json_key(out, "occurred_at");
      out += eck::to_json(env.occurred_at());  // a JSON string (RFC 3339)
    }
    json_attr(out, "correlation_id", env.correlation_id());
    json_attr(out, "causation_id", env.causation_id());
    json_key(out, "payload");
    const eck::EventKind* kind = eck::kind_of(env);
    if (kind) {
      out += eck::to_json(env.GetReflection()->GetMessage(env, kind->field));
    } else {
      out += "null";
    }
    out.push_back('}');
    return out;
  } catch (const std::exception& e) {
    return error_line(ev, e.what());
  }
}

std::string heartbeat_line(const eck::Event& ev) {
  eck::v1::Heartbeat hb;
  if (!hb.ParseFromString(ev.raw)) return error_line(ev, "heartbeat does not decode as eck.v1.Heartbeat");
  try {
    std::string out = head_of_line(ev.seq, ev.topic);
    json_key(out, "heartbeat");
    out += eck::to_json(hb);
    out.push_back('}');
    return out;
  } catch (const std::exception& e) {
    return error_line(ev, e.what());
  }
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

// ---- options ---------------------------------------------------------------

struct Options {
  eck::FollowerOptions follower;
  std::optional<std::uint64_t> from;
  std::optional<std::uint64_t> count;
  bool stats = false;
  bool heartbeats = false;
  std::string log_level = "warn";
};

Options parse(eck::Args& args) {
  Options o;
  o.follower.name = "eck-tap";
  o.follower.fanout_endpoint = args.value("--fanout").value_or("tcp://127.0.0.1:5571");
  o.follower.replay_endpoint = args.value("--replay").value_or("tcp://127.0.0.1:5572");
  if (o.follower.fanout_endpoint.empty()) throw eck::UsageError("--fanout needs a value");
  if (o.follower.replay_endpoint.empty()) throw eck::UsageError("--replay needs a value");
  o.follower.topics = args.values("--topic");
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (auto from = args.integer("--from", 0, kMax)) o.from = static_cast<std::uint64_t>(*from);
  if (auto count = args.integer("--count", 1, kMax)) o.count = static_cast<std::uint64_t>(*count);
  o.stats = args.flag("--stats");
  o.heartbeats = args.flag("--heartbeats");
  o.log_level = args.value("--log-level").value_or(o.log_level);
  args.finish();
  if (!eck::log::valid_level(o.log_level))
    throw eck::UsageError("--log-level '" + o.log_level +
                          "': expected trace, debug, info, warn, error, critical or off");
  if (o.stats && o.count) throw eck::UsageError("--stats and --count do not go together");
  if (o.stats && o.heartbeats) throw eck::UsageError("--stats and --heartbeats do not go together");
  for (const auto& t : o.follower.topics)
    if (!t.empty() && std::string_view(eck::wire::kHeartbeatTopic).starts_with(t)) o.heartbeats = true;
  if (o.stats) o.heartbeats = false;
  o.follower.heartbeats = o.heartbeats;
  return o;
}

void on_signals(int how, const sigset_t& set) {
  if (int rc = ::pthread_sigmask(how, &set, nullptr); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
}

// ---- the loop -----------------------------------------------------------------

int run(const Options& o) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;

  eck::Follower follower(o.follower);
  {
    // ZeroMQ's own threads start with the first socket: they must not take
    // the signals meant to interrupt our poll. And a handler (rather than
    // the default) also overrides SIG_IGN, which a shell gives background
    // jobs for SIGINT.
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a signal cuts the wait short
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    on_signals(SIG_BLOCK, set);
    try {
      follower.connect();
    } catch (const zmq::error_t& e) {
      on_signals(SIG_UNBLOCK, set);
      std::fprintf(stderr, "eck-tap: cannot connect to %s / %s: %s (see eck-tap --help)\n",
                   o.follower.fanout_endpoint.c_str(), o.follower.replay_endpoint.c_str(), e.what());
      return 2;
    }
    on_signals(SIG_UNBLOCK, set);
  }
  if (o.from)
    follower.start(*o.from == 0 ? 0 : *o.from - 1);
  else
    follower.start_at_head();

  std::uint64_t printed = 0;
  std::map<std::string, std::uint64_t> per_topic;  // --stats: events in the current second
  auto next_tick = Clock::now() + std::chrono::seconds(1);
  std::deque<eck::FollowedEvent> ready;
  while (!g_stop) {
    auto wait = milliseconds(500);
    if (o.stats) {
      const auto now = Clock::now();
      wait = now >= next_tick ? milliseconds(0)
                              : std::min(wait, std::chrono::duration_cast<milliseconds>(
                                                   next_tick - now) + milliseconds(1));
    }
    follower.poll(ready, wait);
    for (const auto& fe : ready) {
      if (g_stop) break;
      if (fe.heartbeat) {
        if (o.heartbeats) print_line(heartbeat_line(fe.event));
        continue;
      }
      if (o.stats) {
        ++per_topic[fe.event.topic];
        continue;
      }
      print_line(event_line(fe));
      if (o.count && ++printed >= *o.count) {
        std::fflush(stdout);
        return 0;
      }
    }
    ready.clear();
    if (o.stats && Clock::now() >= next_tick) {
      const std::string t = utc_now();
      for (auto& [topic, n] : per_topic) {
        std::string line = "{\"t\":\"" + t + "\"";
        json_key(line, "topic");
        json_string(line, topic);
        line += ",\"events_per_s\":" + std::to_string(n) + "}";
        print_line(line);
        n = 0;
      }
      next_tick += std::chrono::seconds(1);
      // Fell behind (suspended, say): start counting afresh.
      if (next_tick <= Clock::now()) next_tick = Clock::now() + std::chrono::seconds(1);
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Every line is visible at once, on a terminal or through a pipe
  // (./dev up, tests).
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  eck::Args args(argc, argv);
  Options opts;
  try {
    if (args.flag("--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (args.flag("--version")) {
      std::printf("eck-tap %s\n", eck::version());
      return 0;
    }
    opts = parse(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eck-tap: %s (see eck-tap --help)\n", e.what());
    return 2;
  }
  try {
    eck::log::init("eck-tap", opts.log_level);
    return run(opts);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "eck-tap: %s\n", e.what());
    return 1;
  }
}
