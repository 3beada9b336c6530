#include "pos_daemon.h"

#include "books.h"
#include "eck/service.h"

namespace eck::pos {

int run_pos(const PosConfig& cfg, Runtime& rt) {
  ServiceOptions o;
  o.name = "pos";
  o.database = cfg.database;
  o.bus = cfg.bus;
  o.topics = {"pos.", "fiscal.SaleSigned"};
  o.migrations = {pos_migrations()};
  o.max_batch = cfg.max_batch;
  o.outbox = false;  // eck-pos keeps books; it publishes nothing

  Books books;
  TransactionHooks hooks;
  hooks.before_commit = [&](pqxx::work& tx) { books.flush(tx); };
  hooks.after_rollback = [&] { books.discard(); };
  return run_service(
      o, rt, [&](const Event& ev, pqxx::work& tx) { books.apply(ev, tx); }, std::move(hooks));
}

}  // namespace eck::pos
