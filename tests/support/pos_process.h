// The real eck-pos binary for one test, against a test database and a
// BrokerProcess's endpoints.
//
//   eck::test::TestDatabase db;
//   db.provision();
//   eck::test::BrokerProcess broker(db.url_as("eck_broker"));
//   broker.start();
//   eck::test::PosOptions o;
//   o.business.name = "Bäckerei Beispiel";
//   eck::test::PosProcess pos(db.url_as("eck_pos"), broker.bus(), o);
//   pos.start();                                        // returns once it sent READY=1
//   pos.kill(SIGKILL); pos.start();                     // same config, same schema
//   auto r = pos.run_command({"receipt", "S-1"});       // eck-pos --config F receipt S-1
//   EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
#pragma once

#include <string>
#include <vector>

#include "daemon_process.h"

namespace eck::test {

// The "business:" section (printed on receipts and Z-reports); left out of
// the configuration when every field is empty.
struct PosBusiness {
  std::string name;
  std::vector<std::string> address;
  std::string tax_number;
  std::string vat_id;
};

struct PosOptions {
  std::string extra_yaml;  // appended under "pos:" (indented by the caller), e.g. "  max_batch: 50\n"
  PosBusiness business;
  std::string log_level = "info";
};

class PosProcess : public DaemonProcess {
 public:
  PosProcess(std::string database_url, const BusEndpoints& bus, PosOptions opts = {});
};

}  // namespace eck::test
