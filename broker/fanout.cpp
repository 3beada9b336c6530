#include "fanout.h"

#include <google/protobuf/util/time_util.h>

#include "eck/v1/wire.pb.h"
#include "eck/wire.h"

namespace eck::broker {

Fanout::Fanout(zmq::context_t& ctx, const std::string& endpoint, int hwm)
    : sock_(ctx, zmq::socket_type::xpub) {
  sock_.set(zmq::sockopt::sndhwm, hwm);
  sock_.set(zmq::sockopt::linger, 0);
  sock_.bind(endpoint);
}

void Fanout::publish(const std::string& topic, std::uint64_t seq, std::uint64_t prev_topic_seq,
                     const std::string& envelope) {
  const std::string meta = wire::encode_meta({seq, prev_topic_seq});
  sock_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  sock_.send(zmq::buffer(meta), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  sock_.send(zmq::buffer(envelope), zmq::send_flags::dontwait);
}

void Fanout::heartbeat(std::uint64_t head, const std::map<std::string, std::uint64_t>& topic_heads,
                       const std::string& journal_id, bool database_up) {
  v1::Heartbeat hb;
  hb.set_head_seq(head);
  for (const auto& [topic, seq] : topic_heads) (*hb.mutable_topic_heads())[topic] = seq;
  *hb.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  hb.set_journal_id(journal_id);
  hb.set_database_up(database_up);
  publish(std::string(wire::kHeartbeatTopic), head, 0, hb.SerializeAsString());
}

int Fanout::drain_subscriptions() {
  int n = 0;
  zmq::message_t msg;
  while (sock_.recv(msg, zmq::recv_flags::dontwait)) ++n;
  return n;
}

}  // namespace eck::broker
