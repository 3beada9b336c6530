// A DEALER socket that speaks the wire protocol frame by frame, as a client
// in another language would: for tests of the broker's endpoints that must
// not go through the C++ client library.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <zmq.hpp>
#include <zmq_addon.hpp>

namespace eck::test {

class RawDealer {
 public:
  using Frames = std::vector<std::string>;

  RawDealer(zmq::context_t& ctx, const std::string& endpoint,
            std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    sock_.connect(endpoint);
  }

  void send(const Frames& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i)
      sock_.send(zmq::buffer(frames[i]),
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }

  // Throws when nothing arrives within the timeout.
  Frames recv() {
    std::vector<zmq::message_t> msgs;
    if (!zmq::recv_multipart(sock_, std::back_inserter(msgs)))
      throw std::runtime_error("no reply within the timeout");
    Frames out;
    for (auto& m : msgs) out.push_back(m.to_string());
    return out;
  }

  Frames exchange(const Frames& frames) {
    send(frames);
    return recv();
  }

  // ["ECK1", "PUB", topic, envelope] and its reply.
  Frames publish(const std::string& topic, const std::string& envelope) {
    return exchange({"ECK1", "PUB", topic, envelope});
  }

 private:
  zmq::socket_t sock_;
};

}  // namespace eck::test
