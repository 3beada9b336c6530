// The real eck-broker binary, started for one test on ipc:// endpoints in a
// private directory, against a database of the test's own.
//
//   eck::test::TestDatabase db;
//   eck::test::BrokerProcess broker(db.url());
//   broker.start();                        // returns once the broker sent READY=1
//   eck::PublisherOptions p; p.endpoint = broker.ingest();
//   ...
//   broker.kill(SIGKILL); broker.start();  // same endpoints, same journal
//
// Readiness comes through the systemd notify protocol: the test listens on a
// NOTIFY_SOCKET of its own, so it also proves READY is sent only when the
// broker is really serving. Process handling is DaemonProcess's
// (daemon_process.h).
#pragma once

#include <string>

#include "daemon_process.h"

namespace eck::test {

struct BrokerOptions {
  std::string extra_yaml;      // appended under "broker:" (indented by the caller)
  std::string log_level = "info";
};

class BrokerProcess : public DaemonProcess {
 public:
  explicit BrokerProcess(std::string database_url, BrokerOptions opts = {});

  std::string ingest() const { return "ipc://" + dir().path() + "/ingest"; }
  std::string fanout() const { return "ipc://" + dir().path() + "/fanout"; }
  std::string replay() const { return "ipc://" + dir().path() + "/replay"; }
  // The three endpoints, as client daemons' "bus:" section names them.
  BusEndpoints bus() const { return {ingest(), fanout(), replay()}; }
};

}  // namespace eck::test
