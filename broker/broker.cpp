#include "broker.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/migrate.h"
#include "fanout.h"
#include "ingest.h"
#include "journal.h"
#include "replay_server.h"

namespace eck {
MigrationSet broker_migrations();
}

namespace eck::broker {
namespace {

using Clock = std::chrono::steady_clock;

void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
    s.send(zmq::buffer(frames[i]), flags);
  }
}

// Sleeps in small steps so a stop request is honoured promptly.
void pause(Runtime& rt, std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!rt.stopping() && Clock::now() < until) {
    rt.handle_signals();
    rt.watchdog();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Migrates and takes the writer lock, retrying while the database is down or
// another broker is the writer. False when asked to stop first.
bool become_writer(const BrokerConfig& cfg, Runtime& rt, Database& db, Journal& journal) {
  bool told_standby = false;
  auto backoff = std::chrono::milliseconds(100);
  while (!rt.stopping()) {
    try {
      migrate(db.connection(), "broker", {broker_migrations()});
      if (journal.try_open()) return true;
      if (!told_standby) {
        spdlog::info("another broker holds the journal writer lock; standing by");
        rt.status("standby: waiting for the journal writer lock");
        told_standby = true;
      }
      journal.reset();
      pause(rt, cfg.standby_retry);
    } catch (const MigrationError&) {
      throw;  // an edited migration or a newer schema: a person must look
    } catch (const std::exception& e) {
      spdlog::warn("journal database not ready: {}", e.what());
      rt.status("waiting for the journal database");
      journal.reset();
      pause(rt, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
  return false;
}

class IngestLoop {
 public:
  IngestLoop(const BrokerConfig& cfg, Runtime& rt, zmq::context_t& ctx, Database& db, Journal& journal)
      : cfg_(cfg), rt_(rt), db_(db), journal_(journal), ingest_(ctx, zmq::socket_type::router),
        fanout_(ctx, cfg.fanout, cfg.fanout_hwm) {
    // Oversized messages up to this bound get a TOO_LARGE NACK; beyond it
    // ZeroMQ drops the connection before the bytes are buffered.
    ingest_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(cfg.max_event_bytes * 4 + 65536));
    ingest_.set(zmq::sockopt::sndhwm, 100000);
    ingest_.set(zmq::sockopt::rcvhwm, 100000);
    ingest_.set(zmq::sockopt::linger, 2000);  // let the last ACKs out on shutdown
    ingest_.bind(cfg.ingest);
  }

  int run();

 private:
  void process(std::vector<Publish>& batch);
  void try_reconnect();
  void heartbeat_if_due(bool force = false);
  void report();

  const BrokerConfig& cfg_;
  Runtime& rt_;
  Database& db_;
  Journal& journal_;
  zmq::socket_t ingest_;
  Fanout fanout_;
  BrokerStats stats_;
  Clock::time_point next_heartbeat_{};
  Clock::time_point next_reconnect_{};
  Clock::time_point next_report_{};
  bool lost_lock_ = false;
};

int IngestLoop::run() {
  std::vector<Publish> batch;
  batch.reserve(cfg_.max_batch);
  std::vector<zmq::message_t> frames;
  std::vector<std::string_view> views;
  while (!rt_.stopping() && !lost_lock_) {
    zmq::pollitem_t items[] = {
        {ingest_.handle(), 0, ZMQ_POLLIN, 0},
        {fanout_.socket().handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, rt_.signal_fd(), ZMQ_POLLIN, 0},
    };
    const auto wait = std::min<std::chrono::milliseconds>(cfg_.heartbeat, rt_.tick());
    zmq::poll(items, 3, wait);
    if (items[2].revents & ZMQ_POLLIN) rt_.handle_signals();
    if (items[1].revents & ZMQ_POLLIN) fanout_.drain_subscriptions();

    // Group commit: everything already waiting goes into one transaction.
    while (batch.size() < cfg_.max_batch) {
      frames.clear();
      if (!zmq::recv_multipart(ingest_, std::back_inserter(frames), zmq::recv_flags::dontwait)) break;
      if (frames.empty()) continue;
      std::string peer = frames[0].to_string();
      views.clear();
      for (std::size_t i = 1; i < frames.size(); ++i) views.push_back(frames[i].to_string_view());
      auto parsed = parse_publish(std::move(peer), views, cfg_.max_event_bytes);
      if (auto* nack = std::get_if<Nack>(&parsed)) {
        spdlog::debug("NACK {} {}: {}", nack->event_id, wire::code_name(nack->code), nack->reason);
        send_frames(ingest_, nack_frames(*nack));
        ++stats_.nacked;
      } else {
        batch.push_back(std::move(std::get<Publish>(parsed)));
      }
    }
    if (!batch.empty()) process(batch);
    if (!journal_.is_open()) try_reconnect();
    heartbeat_if_due();
    report();
    rt_.watchdog();
  }
  if (lost_lock_) return 1;
  // Heartbeat with the final head so followers see the tail before we go.
  heartbeat_if_due(true);
  return 0;
}

void IngestLoop::process(std::vector<Publish>& batch) {
  if (journal_.is_open()) {
    try {
      auto results = journal_.append(batch);
      ++stats_.batches;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        send_frames(ingest_, ack_frames(batch[i].peer, batch[i].event_id, results[i].seq,
                                        results[i].duplicate));
        ++stats_.acked;
        if (results[i].duplicate) ++stats_.duplicates;
      }
      for (std::size_t i = 0; i < batch.size(); ++i)
        if (!results[i].duplicate)
          fanout_.publish(batch[i].topic, results[i].seq, results[i].prev_topic_seq, batch[i].envelope);
      batch.clear();
      return;
    } catch (const std::exception& e) {
      // Not committed, or unknown whether: nothing is acknowledged, the
      // publishers retry with the same event_ids and dedupe sorts it out.
      spdlog::error("journal append of {} events failed: {}", batch.size(), e.what());
      journal_.reset();
      next_reconnect_ = Clock::now() + std::chrono::milliseconds(100);
      heartbeat_if_due(true);
    }
  }
  for (const auto& p : batch) {
    send_frames(ingest_, nack_frames(Nack{p.peer, p.event_id, wire::Code::kUnavailable,
                                          "journal database unavailable; retry"}));
    ++stats_.nacked;
  }
  batch.clear();
}

void IngestLoop::try_reconnect() {
  if (Clock::now() < next_reconnect_) return;
  next_reconnect_ = Clock::now() + std::chrono::milliseconds(500);
  try {
    if (journal_.try_open()) {
      spdlog::info("journal database back; head is {}", journal_.head());
      heartbeat_if_due(true);
      return;
    }
    spdlog::critical("another broker took the journal writer lock; exiting");
    lost_lock_ = true;
  } catch (const std::exception& e) {
    spdlog::debug("journal reconnect failed: {}", e.what());
    journal_.reset();
  }
}

void IngestLoop::heartbeat_if_due(bool force) {
  const auto now = Clock::now();
  if (!force && now < next_heartbeat_) return;
  next_heartbeat_ = now + cfg_.heartbeat;
  fanout_.heartbeat(journal_.head(), journal_.topic_heads(), journal_.journal_id(), journal_.is_open());
}

void IngestLoop::report() {
  const auto now = Clock::now();
  if (now < next_report_) return;
  const bool first = next_report_ == Clock::time_point{};
  next_report_ = now + std::chrono::seconds(5);
  const std::string s = fmt::format("head={} acked={} duplicates={} nacked={} batches={} db={}",
                                    journal_.head(), stats_.acked, stats_.duplicates, stats_.nacked,
                                    stats_.batches, journal_.is_open() ? "up" : "down");
  rt_.status(s);
  if (!first) spdlog::debug("stats {}", s);
}

}  // namespace

int run_broker(const BrokerConfig& cfg, Runtime& rt) {
  Database db(cfg.database);
  Journal journal(db);
  if (!become_writer(cfg, rt, db, journal)) return 0;

  zmq::context_t ctx(1);
  ReplayServer replay(ctx, cfg.replay, cfg.database);
  IngestLoop loop(cfg, rt, ctx, db, journal);
  replay.start();
  spdlog::info("ready: journal head {}, ingest {}, fanout {}, replay {}", journal.head(), cfg.ingest,
               cfg.fanout, cfg.replay);
  rt.ready();
  int rc = loop.run();
  rt.notify_stopping();
  spdlog::info("stopping: journal head {}", journal.head());
  replay.stop();
  return rc;
}

}  // namespace eck::broker
