#include "fanout_subscriber.h"

#include <chrono>
#include <iterator>
#include <vector>

#include <zmq_addon.hpp>

namespace eck::bench {

FanoutSubscriber::FanoutSubscriber(zmq::context_t& ctx, const std::string& endpoint, std::string_view topic,
                                   Handler on_event)
    : sock_(ctx, zmq::socket_type::sub), on_event_(std::move(on_event)) {
  sock_.set(zmq::sockopt::rcvhwm, 1000000);
  sock_.set(zmq::sockopt::linger, 0);
  sock_.set(zmq::sockopt::subscribe, topic);
  sock_.connect(endpoint);
  thread_ = std::thread([this] { run(); });
}

void FanoutSubscriber::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void FanoutSubscriber::run() {
  std::vector<zmq::message_t> frames;
  v1::Envelope env;
  while (!stop_) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(20));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    for (;;) {
      frames.clear();
      if (!zmq::recv_multipart(sock_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      const auto now = Clock::now();
      if (frames.size() != 3 || !env.ParseFromArray(frames[2].data(), static_cast<int>(frames[2].size()))) {
        bad_.fetch_add(1);
        continue;
      }
      on_event_(env, now);
      seen_.fetch_add(1);
    }
  }
}

}  // namespace eck::bench
