// DuplicateGuard: refuses a document (sale, void, receipt ...) applied twice,
// cheaply, for consumers that buffer their writes (TransactionHooks).
//
// A document republished under a new event_id passes the broker's dedupe;
// the daemon's own primary key catches it. Looking the id up per event would
// cost a round trip each, so the guard is optimistic: claim() catches a
// repeat within the transaction at once, and write() runs the buffered COPY
// and turns the database's duplicate-key error into eck::Rejected naming the
// document. The transaction is lost then either way; the consumer redoes the
// batch event by event, and the duplicate alone is dead-lettered with that
// reason.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "eck/consumer.h"  // Rejected

namespace eck {

class DuplicateGuard {
 public:
  // Throws Rejected when (kind, id) was claimed since the last write().
  void claim(const std::string& kind, const std::string& id) {
    if (!claimed_.emplace(kind, id).second) throw Rejected(message(kind, id));
    order_.emplace_back(kind, id);
  }
  bool claimed(const std::string& kind, const std::string& id) const {
    return claimed_.count({kind, id}) > 0;
  }

  // Runs write(); a duplicate key it hits becomes Rejected. Forgets the
  // claims afterwards (they are in the database now).
  template <typename Write>
  void write(Write&& write) {
    try {
      write();
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "23505") throw;
      if (order_.size() == 1) throw Rejected(message(order_[0].first, order_[0].second));
      throw Rejected("duplicate: a document of this batch was already applied (" +
                     std::string(e.what()).substr(0, 200) + ")");
    }
    reset();
  }

  void reset() {
    claimed_.clear();
    order_.clear();
  }

 private:
  static std::string message(const std::string& kind, const std::string& id) {
    return fmt::format("duplicate: {} '{}' was already applied", kind,
                       id.size() > 64 ? id.substr(0, 64) + "..." : id);
  }

  std::set<std::pair<std::string, std::string>> claimed_;
  std::vector<std::pair<std::string, std::string>> order_;
};

}  // namespace eck
