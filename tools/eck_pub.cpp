// eck-pub: publish events from scripts.
//
//   eck-pub --type SaleCompleted --json '{"sale_id":"S1", ...}'
//   producer | eck-pub                 # one Envelope JSON per line
//   producer | eck-pub --type StockReceived   # one payload JSON per line
//
// All input is parsed before anything is sent, so a typo on line 900 does not
// leave 899 events published. Prints one line per event, in input order:
//   seq=<n> event_id=<uuid> topic=<topic> duplicate=<0|1>
// Exit status: 0 all acknowledged, 1 some event was refused (NACK reason on
// stderr), 2 usage or input error (nothing sent), 3 broker unreachable
// within --timeout-ms.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "eck/args.h"
#include "eck/daemon.h"
#include "eck/events.h"
#include "eck/publisher.h"
#include "eck/uuid.h"

namespace {

constexpr const char* kUsage = R"(usage: eck-pub [options]
  --type NAME        event type (SaleCompleted or eck.v1.SaleCompleted); with
                     --json the payload, else each stdin line is a payload
  --json JSON        publish one event whose payload is this protobuf JSON
                     (without --json, read one JSON object per stdin line:
                     a payload when --type is given, else a whole Envelope)
  --endpoint URL     broker ingest endpoint (default tcp://127.0.0.1:5570)
  --source NAME      Envelope.source when the input leaves it empty (default eck-pub)
  --event-id UUID    event_id of the single --json event (default: new UUIDv7)
  --subject TEXT     Envelope.subject of the single --json event
  --timeout-ms N     give up when not everything is acknowledged by then (default 10000)
  --spool PATH       keep unacknowledged events in this SQLite file
  --list-types       print the known event types and topics, then exit
  --version, --help
)";

struct Input {
  int line = 0;
  eck::v1::Envelope env;
};

std::vector<Input> read_input(eck::Args& args, const std::string& source) {
  auto type = args.value("--type");
  auto json = args.value("--json");
  auto event_id = args.value("--event-id");
  auto subject = args.value("--subject");
  std::vector<Input> out;
  if (json) {
    if (!type) throw eck::UsageError("--json needs --type");
    Input in{1, eck::envelope_from_payload_json(*type, *json)};
    if (event_id) {
      if (!eck::is_uuid(*event_id)) throw eck::UsageError("--event-id '" + *event_id + "' is not a UUID");
      in.env.set_event_id(*event_id);
    }
    if (subject) in.env.set_subject(*subject);
    eck::complete_envelope(in.env, source);
    out.push_back(std::move(in));
    return out;
  }
  if (event_id || subject) throw eck::UsageError("--event-id and --subject need --json");
  std::string line;
  int n = 0;
  while (std::getline(std::cin, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      Input in{n, type ? eck::envelope_from_payload_json(*type, line) : eck::envelope_from_json(line)};
      eck::complete_envelope(in.env, source);
      out.push_back(std::move(in));
    } catch (const std::invalid_argument& e) {
      throw eck::UsageError("stdin line " + std::to_string(n) + ": " + e.what());
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  eck::Args args(argc, argv);
  if (args.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.flag("--version")) {
    std::printf("eck-pub %s\n", eck::version());
    return 0;
  }
  eck::PublisherOptions opts;
  std::vector<Input> inputs;
  std::chrono::milliseconds timeout{10000};
  try {
    if (args.flag("--list-types")) {
      args.finish();
      for (const auto& k : eck::event_kinds()) std::printf("%-20s %s\n", k.short_name.c_str(), k.topic.c_str());
      return 0;
    }
    opts.endpoint = args.value("--endpoint").value_or(opts.endpoint);
    opts.source = args.value("--source").value_or("eck-pub");
    opts.spool_path = args.value("--spool").value_or("");
    timeout = std::chrono::milliseconds(args.integer("--timeout-ms", 1, 86400000).value_or(10000));
    inputs = read_input(args, opts.source);
    args.finish();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eck-pub: %s (see eck-pub --help)\n", e.what());
    return 2;
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "eck-pub: nothing to publish\n");
    return 2;
  }

  eck::Publisher publisher(opts);
  std::vector<std::future<eck::Ack>> futures;
  std::vector<std::string> topics;
  futures.reserve(inputs.size());
  for (auto& in : inputs) {
    topics.push_back(eck::kind_of(in.env)->topic);
    futures.push_back(publisher.publish(std::move(in.env)));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int rc = 0;
  for (std::size_t i = 0; i < futures.size(); ++i) {
    if (futures[i].wait_until(deadline) != std::future_status::ready) {
      std::fprintf(stderr, "eck-pub: broker at %s did not acknowledge within %lld ms\n",
                   opts.endpoint.c_str(), static_cast<long long>(timeout.count()));
      std::fflush(stdout);
      return 3;
    }
    try {
      auto ack = futures[i].get();
      std::printf("seq=%llu event_id=%s topic=%s duplicate=%d\n", static_cast<unsigned long long>(ack.seq),
                  ack.event_id.c_str(), topics[i].c_str(), ack.duplicate ? 1 : 0);
    } catch (const eck::PublishError& e) {
      std::fprintf(stderr, "eck-pub: line %d: NACK %s: %s\n", inputs[i].line,
                   std::string(eck::wire::code_name(e.code())).c_str(), e.reason().c_str());
      rc = 1;
    }
  }
  std::fflush(stdout);
  return rc;
}
