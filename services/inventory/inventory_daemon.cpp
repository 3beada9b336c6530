#include "inventory_daemon.h"

#include <iterator>

#include "eck/service.h"
#include "ledger.h"
#include "stock_events.h"

namespace eck::inventory {

int run_inventory(const InventoryConfig& cfg, Runtime& rt) {
  ServiceOptions o;
  o.name = "inventory";
  o.database = cfg.database;
  o.bus = cfg.bus;
  o.topics.assign(std::begin(kTopics), std::end(kTopics));
  o.migrations = {inventory_migrations()};
  o.max_batch = cfg.max_batch;

  Ledger ledger("eck-inventory");
  TransactionHooks hooks;
  hooks.before_commit = [&](pqxx::work& tx) { ledger.flush(tx); };
  hooks.after_rollback = [&] { ledger.discard(); };
  return run_service(
      o, rt, [&](const Event& ev, pqxx::work& tx) { apply_stock_event(ev, tx, ledger); },
      std::move(hooks));
}

}  // namespace eck::inventory
