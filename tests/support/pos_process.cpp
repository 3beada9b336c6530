#include "pos_process.h"

namespace eck::test {
namespace {

// A YAML double-quoted scalar: any text survives (umlauts, ':', '#', quotes).
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string business_yaml(const PosBusiness& b) {
  if (b.name.empty() && b.address.empty() && b.tax_number.empty() && b.vat_id.empty()) return "";
  std::string yaml = "business:\n";
  if (!b.name.empty()) yaml += "  name: " + quoted(b.name) + "\n";
  if (!b.address.empty()) {
    yaml += "  address:\n";
    for (const auto& line : b.address) yaml += "    - " + quoted(line) + "\n";
  }
  if (!b.tax_number.empty()) yaml += "  tax_number: " + quoted(b.tax_number) + "\n";
  if (!b.vat_id.empty()) yaml += "  vat_id: " + quoted(b.vat_id) + "\n";
  return yaml;
}

}  // namespace

PosProcess::PosProcess(std::string database_url, const BusEndpoints& bus, PosOptions opts)
    : DaemonProcess("pos", "services/pos/eck-pos") {
  std::string yaml = daemon_config_yaml(opts.log_level, database_url, bus);
  if (!opts.extra_yaml.empty()) yaml += "pos:\n" + opts.extra_yaml;
  yaml += business_yaml(opts.business);
  write_config(yaml);
}

}  // namespace eck::test
