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

// A batch whose commit has not been answered within this time counts as
// failed with an unknown outcome (a hung, not dead, database): its session
// is dropped, its publishes are refused UNAVAILABLE and the journal
// reconnects. The writer lock keeps this safe: it is only free again once
// the old session, and whatever it was committing, is gone.
constexpr auto kCommitTimeout = std::chrono::seconds(10);

// From this size of the batch in flight on, publishes are read while it
// commits (see IngestLoop::run).
constexpr std::size_t kReadWhileCommitting = 64;

void send_frames(zmq::socket_t& s, const std::vector<std::string>& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto flags = zmq::send_flags::dontwait;
    if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
    s.send(zmq::buffer(frames[i]), flags);
  }
}

// ["ECK1", "ACK", event_id, seq, duplicate] to `peer`, without building
// strings: one ACK per journaled event.
void send_ack(zmq::socket_t& s, const Publish& p, const Appended& a) {
  char seq[8];
  for (int i = 7; i >= 0; --i) seq[i] = static_cast<char>((a.seq >> (8 * (7 - i))) & 0xff);
  const char duplicate = a.duplicate ? '\1' : '\0';
  constexpr auto more = zmq::send_flags::dontwait | zmq::send_flags::sndmore;
  s.send(zmq::buffer(p.peer), more);
  s.send(zmq::buffer(wire::kVersion), more);
  s.send(zmq::buffer(wire::kAck), more);
  s.send(zmq::buffer(p.event_id), more);
  s.send(zmq::buffer(seq, sizeof seq), more);
  s.send(zmq::buffer(&duplicate, 1), zmq::send_flags::dontwait);
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
      rt.pause(cfg.standby_retry);
    } catch (const MigrationError&) {
      throw;  // an edited migration or a newer schema: a person must look
    } catch (const std::exception& e) {
      spdlog::warn("journal database not ready: {}", e.what());
      rt.status("waiting for the journal database");
      journal.reset();
      rt.pause(backoff);
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
  void read_publishes();
  void start_next();
  void complete(bool block);
  void acknowledge(const std::vector<Publish>& batch, const std::vector<Appended>& results);
  void journal_failed(const std::exception& e, std::vector<Publish>& batch);
  void refuse(std::vector<Publish>& batch);
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
  bool announce_ = false;  // heartbeat now: the database state changed
  bool draining_ = false;  // stopping: read no more publishes
  Clock::time_point inflight_since_{};
  // Group commit, pipelined: while `inflight_` commits, the publishes that
  // arrive are read, checked and collected in `next_`, which is sent the
  // moment `inflight_` is done; `done_` is the batch being acknowledged.
  std::vector<Publish> next_, inflight_, done_;
  std::vector<Appended> results_;
  std::vector<zmq::message_t> frames_;
  std::vector<std::string_view> views_;
};

int IngestLoop::run() {
  for (auto* b : {&next_, &inflight_, &done_}) b->reserve(cfg_.max_batch);
  while (!rt_.stopping() && !lost_lock_) {
    const bool busy = journal_.busy();
    // While a big batch commits, the next one is read and checked beside
    // it. A small batch commits in about one fsync: waking up for every
    // publish that arrives meanwhile would cost more than it saves, they
    // are read in one go when it is done. A full next batch waits for the
    // one in flight: back-pressure.
    const bool read =
        (!busy || inflight_.size() >= kReadWhileCommitting) && next_.size() < cfg_.max_batch;
    zmq::pollitem_t items[] = {
        {fanout_.socket().handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, rt_.signal_fd(), ZMQ_POLLIN, 0},
        {ingest_.handle(), 0, static_cast<short>(read ? ZMQ_POLLIN : 0), 0},
        {nullptr, busy ? journal_.socket() : -1, ZMQ_POLLIN, 0},
    };
    const auto wait = std::min<std::chrono::milliseconds>(cfg_.heartbeat, rt_.tick());
    const int ready = zmq::poll(items, busy ? 4 : 3, wait);
    if (items[1].revents & ZMQ_POLLIN) rt_.handle_signals();
    if (items[0].revents & ZMQ_POLLIN) fanout_.drain_subscriptions();
    // (On a timeout too: never wait on the socket for an answer that is
    // already buffered.)
    if (busy && (items[3].revents != 0 || ready == 0)) complete(false);
    if (journal_.busy() && Clock::now() - inflight_since_ > kCommitTimeout)
      journal_failed(JournalError("no answer from the journal database within " +
                                  std::to_string(kCommitTimeout.count()) + " s; outcome unknown"),
                     inflight_);
    if (items[2].revents & ZMQ_POLLIN) read_publishes();
    if (!journal_.busy() && !next_.empty()) start_next();
    if (!journal_.is_open()) try_reconnect();
    // After the ACKs and fan-out of what committed: a heartbeat follows the
    // events it covers.
    heartbeat_if_due(announce_);
    announce_ = false;
    report();
    rt_.watchdog();
  }
  // Stopping: what is in flight finishes and what was read is journaled
  // too (or refused); nothing new is read.
  draining_ = true;
  while (journal_.busy() || !next_.empty()) {
    if (journal_.busy())
      complete(true);
    else
      start_next();
  }
  if (lost_lock_) return 1;
  // Heartbeat with the final head so followers see the tail before we go.
  heartbeat_if_due(true);
  return 0;
}

// Group commit: everything already waiting goes into the next transaction.
void IngestLoop::read_publishes() {
  while (!draining_ && next_.size() < cfg_.max_batch) {
    frames_.clear();
    if (!zmq::recv_multipart(ingest_, std::back_inserter(frames_), zmq::recv_flags::dontwait)) break;
    if (frames_.empty()) continue;
    std::string peer = frames_[0].to_string();
    views_.clear();
    for (std::size_t i = 1; i < frames_.size(); ++i) views_.push_back(frames_[i].to_string_view());
    auto parsed = parse_publish(std::move(peer), views_, cfg_.max_event_bytes);
    if (auto* nack = std::get_if<Nack>(&parsed)) {
      spdlog::debug("NACK {} {}: {}", nack->event_id, wire::code_name(nack->code), nack->reason);
      send_frames(ingest_, nack_frames(*nack));
      ++stats_.nacked;
    } else {
      next_.push_back(std::move(std::get<Publish>(parsed)));
    }
  }
}

void IngestLoop::start_next() {
  inflight_.swap(next_);
  next_.clear();
  if (!journal_.is_open()) {
    refuse(inflight_);
    return;
  }
  try {
    journal_.start(inflight_);
    inflight_since_ = Clock::now();
  } catch (const std::exception& e) {
    journal_failed(e, inflight_);
  }
}

// Reads the in-flight batch's answers; once it committed, sends the next
// batch on its way and then acknowledges and fans out this one.
void IngestLoop::complete(bool block) {
  try {
    if (!journal_.finish(results_, block)) return;
  } catch (const std::exception& e) {
    journal_failed(e, inflight_);
    return;
  }
  ++stats_.batches;
  done_.swap(inflight_);
  inflight_.clear();
  read_publishes();
  if (!next_.empty()) start_next();
  acknowledge(done_, results_);
  done_.clear();
}

void IngestLoop::acknowledge(const std::vector<Publish>& batch, const std::vector<Appended>& results) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    send_ack(ingest_, batch[i], results[i]);
    if (results[i].duplicate) ++stats_.duplicates;
  }
  stats_.acked += batch.size();
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (!results[i].duplicate)
      fanout_.publish(batch[i].topic, results[i].seq, results[i].prev_topic_seq, batch[i].envelope);
}

// Not committed, or unknown whether: nothing is acknowledged, the
// publishers retry with the same event_ids and dedupe sorts it out.
void IngestLoop::journal_failed(const std::exception& e, std::vector<Publish>& batch) {
  spdlog::error("journal append of {} events failed: {}", batch.size(), e.what());
  journal_.reset();
  next_reconnect_ = Clock::now() + std::chrono::milliseconds(100);
  announce_ = true;  // database_up = false, once the loop is through
  refuse(batch);
}

void IngestLoop::refuse(std::vector<Publish>& batch) {
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
  const std::string s = fmt::format("head={} acked={} duplicates={} nacked={} batches={} redone={} db={}",
                                    journal_.head(), stats_.acked, stats_.duplicates, stats_.nacked,
                                    stats_.batches, journal_.stats().fallbacks,
                                    journal_.is_open() ? "up" : "down");
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
