// eck-pos as a daemon: records what the tills publish (pos.*) and the TSE
// data eck-fiscal adds (fiscal.SaleSigned) into the pos books (books.h).
// It produces no events. The loop itself is eck::run_service.
#pragma once

#include "eck/daemon.h"
#include "eck/migrate.h"
#include "pos_config.h"

namespace eck {
// schema/pos/*.sql, compiled in (cmake/EmbedMigrations.cmake).
MigrationSet pos_migrations();
}  // namespace eck

namespace eck::pos {

int run_pos(const PosConfig& cfg, Runtime& rt);

}  // namespace eck::pos
