// The event catalog at run time: which payload goes with which topic, and
// conversions between envelopes and JSON for the tools. Everything is derived
// from the (eck.v1.topic) message option in proto/eck/v1, so adding an event
// to envelope.proto's oneof is all it takes to make it known here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eck/v1/envelope.pb.h"
#include "eck/wire.h"

namespace google::protobuf { class Descriptor; }

namespace eck {

struct EventKind {
  std::string topic;        // "pos.SaleCompleted"
  std::string type;         // "eck.v1.SaleCompleted"
  std::string short_name;   // "SaleCompleted"
  const google::protobuf::FieldDescriptor* field;  // the Envelope oneof member
};

// Every event kind in the catalog, in envelope field order.
const std::vector<EventKind>& event_kinds();

// Lookups by topic, full type, or short name ("SaleCompleted"); nullptr if unknown.
const EventKind* kind_by_topic(std::string_view topic);
const EventKind* kind_by_name(std::string_view type_or_short_name);

// The kind of the payload the envelope carries; nullptr when none is set.
const EventKind* kind_of(const v1::Envelope& env);

// Fills the attributes a producer may leave out: event_id (new UUIDv7),
// type (from the payload), occurred_at (now), source (when empty and
// default_source is given). Returns the topic. Throws std::invalid_argument
// when the envelope has no payload or an event_id that is not a UUID.
std::string complete_envelope(v1::Envelope& env, std::string_view default_source = {});

// Why the envelope may not be published on the topic, or nullopt when it
// may. Checks, in this order: event_id is a UUID (kBadEventId); a payload is
// set, the topic equals the payload's topic and type is empty or the
// payload's type (kBadTopic). The broker NACKs with exactly this.
struct Rejection { wire::Code code; std::string reason; };
std::optional<Rejection> validate_event(std::string_view topic, const v1::Envelope& env);

// Builds an envelope from a payload given as protobuf JSON for the named
// event kind ("SaleCompleted" or "eck.v1.SaleCompleted"). Throws
// std::invalid_argument with the parser's message on bad JSON.
v1::Envelope envelope_from_payload_json(std::string_view kind_name, std::string_view json);

// Parses a whole Envelope from protobuf JSON. Throws std::invalid_argument.
v1::Envelope envelope_from_json(std::string_view json);

// One-line JSON for tools (proto3 JSON mapping, field names as in .proto).
std::string to_json(const google::protobuf::Message& m);

}  // namespace eck
