// Loads what a receipt shows from the pos books (sale, lines, VAT computed
// by eck-pos, payments, and the TSE data once eck-fiscal signed the sale).
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

#include "receipt.h"

namespace eck::pos {

// nullopt when the sale is not in the books.
std::optional<Receipt> load_receipt(pqxx::transaction_base& tx, const std::string& sale_id,
                                    const BusinessInfo& business);

}  // namespace eck::pos
