#include "eck/events.h"

#include <stdexcept>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "eck/uuid.h"
#include "eck/v1/options.pb.h"

namespace eck {
namespace pb = google::protobuf;

const std::vector<EventKind>& event_kinds() {
  static const std::vector<EventKind> kinds = [] {
    std::vector<EventKind> out;
    const pb::OneofDescriptor* oneof = v1::Envelope::descriptor()->FindOneofByName("payload");
    for (int i = 0; i < oneof->field_count(); ++i) {
      const pb::FieldDescriptor* f = oneof->field(i);
      const pb::Descriptor* m = f->message_type();
      const std::string& topic = m->options().GetExtension(v1::topic);
      if (topic.empty())
        throw std::logic_error("event message without (eck.v1.topic) option: " + m->full_name());
      out.push_back(EventKind{topic, m->full_name(), m->name(), f});
    }
    return out;
  }();
  return kinds;
}

const EventKind* kind_by_topic(std::string_view topic) {
  for (const auto& k : event_kinds())
    if (k.topic == topic) return &k;
  return nullptr;
}

const EventKind* kind_by_name(std::string_view name) {
  for (const auto& k : event_kinds())
    if (k.type == name || k.short_name == name) return &k;
  return nullptr;
}

const EventKind* kind_of(const v1::Envelope& env) {
  const int field = static_cast<int>(env.payload_case());
  if (field == 0) return nullptr;
  for (const auto& k : event_kinds())
    if (k.field->number() == field) return &k;
  return nullptr;
}

std::string complete_envelope(v1::Envelope& env, std::string_view default_source) {
  const EventKind* kind = kind_of(env);
  if (!kind) throw std::invalid_argument("envelope has no payload");
  if (env.event_id().empty()) env.set_event_id(new_uuid_v7());
  else if (!is_uuid(env.event_id()))
    throw std::invalid_argument("event_id '" + env.event_id().substr(0, 64) + "' is not a UUID");
  if (env.type().empty()) env.set_type(kind->type);
  if (!env.has_occurred_at()) *env.mutable_occurred_at() = pb::util::TimeUtil::GetCurrentTime();
  if (env.source().empty() && !default_source.empty()) env.set_source(std::string(default_source));
  return kind->topic;
}

std::optional<Rejection> validate_event(std::string_view topic, const v1::Envelope& env) {
  if (!is_uuid(env.event_id()))
    return Rejection{wire::Code::kBadEventId,
                     "event_id '" + env.event_id().substr(0, 64) + "' is not a UUID"};
  const EventKind* kind = kind_of(env);
  if (!kind) return Rejection{wire::Code::kBadTopic, "envelope carries no payload"};
  if (topic != kind->topic)
    return Rejection{wire::Code::kBadTopic, "topic '" + std::string(topic.substr(0, 128)) +
                                                "' does not match payload " + kind->short_name +
                                                " (expected '" + kind->topic + "')"};
  if (!env.type().empty() && env.type() != kind->type)
    return Rejection{wire::Code::kBadTopic, "type '" + env.type().substr(0, 128) +
                                                "' does not match payload " + kind->type};
  return std::nullopt;
}

v1::Envelope envelope_from_payload_json(std::string_view kind_name, std::string_view json) {
  const EventKind* kind = kind_by_name(kind_name);
  if (!kind) throw std::invalid_argument("unknown event type '" + std::string(kind_name) + "'");
  v1::Envelope env;
  pb::Message* payload = env.GetReflection()->MutableMessage(&env, kind->field);
  auto st = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), payload);
  if (!st.ok())
    throw std::invalid_argument(kind->short_name + " JSON: " + std::string(st.message()));
  return env;
}

v1::Envelope envelope_from_json(std::string_view json) {
  v1::Envelope env;
  auto st = pb::util::JsonStringToMessage(pb::StringPiece(json.data(), json.size()), &env);
  if (!st.ok()) throw std::invalid_argument("Envelope JSON: " + std::string(st.message()));
  return env;
}

std::string to_json(const pb::Message& m) {
  std::string out;
  pb::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  auto st = pb::util::MessageToJsonString(m, &out, opts);
  if (!st.ok()) throw std::runtime_error("JSON encoding failed: " + std::string(st.message()));
  return out;
}

}  // namespace eck
