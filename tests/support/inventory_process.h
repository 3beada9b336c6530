// The real eck-inventory binary for one test, against a test database and a
// BrokerProcess's endpoints.
//
//   eck::test::TestDatabase db;
//   db.provision();
//   eck::test::BrokerProcess broker(db.url_as("eck_broker"));
//   broker.start();
//   eck::test::InventoryProcess inventory(db.url_as("eck_inventory"), broker.bus());
//   inventory.start();                           // returns once it sent READY=1
//   inventory.kill(SIGKILL); inventory.start();  // same config, same schema
//   auto r = inventory.run_command({"check"});   // eck-inventory --config F check
//   EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
#pragma once

#include <string>

#include "daemon_process.h"

namespace eck::test {

struct InventoryOptions {
  std::string extra_yaml;  // appended under "inventory:" (indented by the caller), e.g. "  max_batch: 50\n"
  std::string log_level = "info";
};

class InventoryProcess : public DaemonProcess {
 public:
  InventoryProcess(std::string database_url, const BusEndpoints& bus, InventoryOptions opts = {});
};

}  // namespace eck::test
