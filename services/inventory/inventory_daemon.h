// eck-inventory as a daemon: consumes catalog, sales and warehouse events
// into the stock ledger (stock_events.h), produces StockLevelChanged and
// BelowThreshold through its outbox. The loop itself is eck::run_service.
#pragma once

#include "eck/daemon.h"
#include "eck/migrate.h"
#include "inventory_config.h"

namespace eck {
// schema/inventory/*.sql, compiled in (cmake/EmbedMigrations.cmake).
MigrationSet inventory_migrations();
}  // namespace eck

namespace eck::inventory {

// Returns the exit code.
int run_inventory(const InventoryConfig& cfg, Runtime& rt);

}  // namespace eck::inventory
