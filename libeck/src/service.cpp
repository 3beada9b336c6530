#include "eck/service.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "eck/outbox.h"

namespace eck {

bool migrate_when_reachable(Database& db, const std::string& schema,
                            const std::vector<MigrationSet>& sets, Runtime& rt) {
  auto backoff = std::chrono::milliseconds(100);
  while (!rt.stopping()) {
    try {
      migrate(db.connection(), schema, sets);
      return true;
    } catch (const MigrationError&) {
      throw;
    } catch (const std::exception& e) {
      spdlog::warn("database not ready: {}; retrying in {} ms", e.what(), backoff.count());
      rt.status("waiting for the database");
      db.reset();
      rt.pause(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
  return false;
}

int run_service(const ServiceOptions& opts, Runtime& rt, Consumer::Handler handler,
                TransactionHooks hooks) {
  Database db(opts.database);
  std::vector<MigrationSet> sets{runtime_migrations()};
  sets.insert(sets.end(), opts.migrations.begin(), opts.migrations.end());
  if (!migrate_when_reachable(db, opts.database.schema, sets, rt)) return 0;

  std::unique_ptr<OutboxRelay> relay;
  if (opts.outbox) {
    PublisherOptions po;
    po.endpoint = opts.bus.ingest;
    po.source = "eck-" + opts.name;
    relay = std::make_unique<OutboxRelay>(opts.database, po);
    relay->start();
  }

  ConsumerOptions co;
  co.name = opts.name;
  co.topics = opts.topics;
  co.fanout_endpoint = opts.bus.fanout;
  co.replay_endpoint = opts.bus.replay;
  co.max_batch = opts.max_batch;
  Consumer consumer(co, db, std::move(handler), std::move(hooks));

  spdlog::info("ready: consuming {} from {}, publishing to {}", fmt::join(opts.topics, " "),
               opts.bus.fanout, opts.bus.ingest);
  rt.ready();

  auto last_status = std::chrono::steady_clock::now() - std::chrono::hours(1);
  consumer.run(
      [&] {
        rt.handle_signals();
        return !rt.stopping();
      },
      [&] {
        rt.watchdog();
        const auto now = std::chrono::steady_clock::now();
        if (now - last_status < std::chrono::seconds(1)) return;
        last_status = now;
        const auto s = consumer.stats();
        std::string line = fmt::format("position {} applied {} dead-lettered {} gaps {}", s.position,
                                       s.applied, s.dead_lettered, s.gaps);
        if (relay) {
          const auto o = relay->stats();
          line += fmt::format(" outbox published {} pending {} rejected {}", o.published,
                              o.pending, o.rejected);
        }
        rt.status(line);
      },
      std::min(rt.tick(), std::chrono::milliseconds(200)));

  rt.notify_stopping();
  const auto s = consumer.stats();
  spdlog::info("stopping at position {} ({} applied, {} dead-lettered since start)", s.position,
               s.applied, s.dead_lettered);
  if (relay) {
    if (!relay->drain(opts.drain_on_stop)) {
      spdlog::info("outbox not drained within {} ms; the next start publishes the rest",
                   opts.drain_on_stop.count());
    }
    relay->stop();
  }
  return 0;
}

}  // namespace eck
