#include "broker_process.h"

namespace eck::test {

BrokerProcess::BrokerProcess(std::string database_url, BrokerOptions opts)
    : DaemonProcess("broker", "broker/eck-broker") {
  write_config("log:\n  level: " + opts.log_level + "\n" +                      //
               "database:\n  url: \"" + database_url + "\"\n" +                  //
               "broker:\n  ingest: \"" + ingest() + "\"\n  fanout: \"" + fanout() +  //
               "\"\n  replay: \"" + replay() + "\"\n" + opts.extra_yaml);
}

}  // namespace eck::test
