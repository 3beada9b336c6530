// eck-journal-bench: times Journal::append alone (no ZeroMQ, no clients)
// against a database, per batch size: wall time per batch (p50/p99), and CPU
// per event of this process and of the journal's PostgreSQL backend. A
// developer tool for the journal's write path; not installed.
//
//   eck-journal-bench URL [--sizes 1,4,100,1000,4000] [--events N]
//                     [--envelope-bytes 200] [--duplicates PERCENT]
//
// URL must name a database where the broker schema may be created (or
// exists). --duplicates: that share of each batch repeats ids journaled by
// the previous batch (exercises the fallback path).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "eck/migrate.h"
#include "eck/uuid.h"
#include "journal.h"

namespace eck {
MigrationSet broker_migrations();
}

namespace {

using Clock = std::chrono::steady_clock;

double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double pid_cpu_s(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string field;
  long long ut = 0, st = 0;
  for (int i = 0; i < 13 && in >> field; ++i) {
    if (i == 11) ut = std::stoll(field);
    if (i == 12) st = std::stoll(field);
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: eck-journal-bench URL [--sizes a,b,c] [--events N] [--envelope-bytes N] "
                         "[--duplicates PERCENT]\n");
    return 2;
  }
  std::string url = argv[1];
  std::vector<std::size_t> sizes{1, 4, 100, 1000, 4000};
  std::size_t events = 40000, env_bytes = 200, dup_percent = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--sizes") {
      sizes.clear();
      std::stringstream ss(v);
      for (std::string x; std::getline(ss, x, ',');) sizes.push_back(std::stoul(x));
    } else if (k == "--events") {
      events = std::stoul(v);
    } else if (k == "--envelope-bytes") {
      env_bytes = std::stoul(v);
    } else if (k == "--duplicates") {
      dup_percent = std::stoul(v);
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  eck::Database db({url, "broker", "eck-journal-bench"});
  eck::migrate(db.connection(), "broker", {eck::broker_migrations()});
  eck::broker::Journal journal(db);
  if (!journal.try_open()) {
    std::fprintf(stderr, "the writer lock is taken\n");
    return 1;
  }
  long backend = 0;
  {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    backend = tx.exec1("SELECT pid FROM pg_stat_activity WHERE application_name = 'eck-journal-bench' "
                       "AND pid <> pg_backend_pid() ORDER BY backend_start DESC LIMIT 1")[0]
                  .as<long>();
  }
  std::vector<eck::broker::Publish> prev;
  for (std::size_t size : sizes) {
    const std::size_t batches = std::max<std::size_t>(10, events / size);
    std::vector<double> wall;
    const double cpu0 = self_cpu_s(), be0 = pid_cpu_s(backend);
    const auto fallbacks0 = journal.stats().fallbacks;
    std::size_t dups = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      std::vector<eck::broker::Publish> batch(size);
      for (std::size_t i = 0; i < size; ++i) {
        if (i < prev.size() && (i * 100) / size < dup_percent) {
          batch[i] = prev[i];
          continue;
        }
        batch[i].peer = "p";
        batch[i].event_id = eck::new_uuid_v7();
        batch[i].topic = i % 3 ? "catalog.ProductUpserted" : "pos.SaleCompleted";
        batch[i].envelope.assign(env_bytes, static_cast<char>('a' + i % 26));
      }
      const auto t0 = Clock::now();
      auto res = journal.append(batch);
      wall.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      for (const auto& r : res) dups += r.duplicate;
      prev = std::move(batch);
    }
    const double cpu = self_cpu_s() - cpu0, be = pid_cpu_s(backend) - be0;
    std::sort(wall.begin(), wall.end());
    const double n = static_cast<double>(batches * size);
    fmt::print("size={} batches={} batch_p50_us={:.0f} batch_p99_us={:.0f} events_per_s={:.0f} "
               "self_cpu_us_per_event={:.2f} backend_cpu_us_per_event={:.2f} duplicates={} fallbacks={}\n",
               size, batches, wall[wall.size() / 2], wall[wall.size() * 99 / 100],
               n / (std::accumulate(wall.begin(), wall.end(), 0.0) / 1e6), cpu * 1e6 / n, be * 1e6 / n, dups,
               journal.stats().fallbacks - fallbacks0);
    std::fflush(stdout);
  }
  return 0;
}
