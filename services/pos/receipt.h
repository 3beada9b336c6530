// Receipts: what a German receipt (Kassenbeleg, § 6 KassenSichV) must carry,
// rendered for an 80 mm thermal printer.
//
// A Receipt is plain data (loaded from the pos schema by receipt_store.h);
// rendering is a pure function of it, so it is cheap (well under 1 ms) and
// testable without a database or a printer.
//
// Content, top to bottom: business name and address (and tax number / VAT id
// when configured); the banners "TRAININGSBUCHUNG – kein Verkauf" for
// training sales and "BELEGABBRUCH" for abandoned ones (repeated at the very
// end); register serial, sale id, cashier; date, start and end time; each
// line: name, then quantity x unit price and its amount with its VAT letter
// (A, B, ...); with a discount that amount is the one before it and a line
// "Rabatt" with the discount as a negative amount follows, so that the
// amount column adds up to the line total and to the sum; the gross total;
// per VAT rate: letter, rate, net, VAT, gross; payments by method and the
// change; then the TSE block once the sale is signed (transaction number,
// signature counter, start and finish time, TSE serial, algorithm,
// signature, and the QR-code text; "TSE-Ausfall" with the error when signing
// failed; "nicht zertifiziert" for eck's software signer), or
// "TSE-Signatur ausstehend" while fiscal has not signed it yet; finally the
// problems eck-pos found in the sale under "Hinweise", if any (the receipt
// never hides them).
//
// Money is integer minor units rendered with a decimal comma ("12,99"),
// quantities integer thousandths ("2", "1,25"); never floats. Times are
// rendered in the process's local time zone (TZ); a time of 0 (epoch) is one
// the till did not send and is printed as "unbekannt", as are an empty
// register id, sale id and cashier.
//
// Text from outside (names, ids, problems, the TSE's strings) is printed as
// it is, except that tabs and line breaks become spaces and other control
// characters and malformed UTF-8 become '?': a name cannot break the layout
// or send commands to the printer.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "sale_checks.h"

namespace eck::pos {

struct BusinessInfo {
  std::string name;
  std::vector<std::string> address;  // printed line by line
  std::string tax_number;            // Steuernummer, optional
  std::string vat_id;                // USt-IdNr., optional
};

struct ReceiptLine {
  int line_no = 0;
  std::string name;                   // as the till printed it (falls back to sku)
  std::string sku;
  std::int64_t quantity_milli = 0;    // negative: goods taken back
  std::int64_t unit_price_minor = 0;  // gross per unit
  std::int64_t discount_minor = 0;    // gross, positive
  std::int64_t line_total_minor = 0;  // gross
  int vat_category = 0;               // eck.v1.VatCategory
  int vat_rate_bp = 0;                // 1900 = 19.00 %
};

// VAT per rate as eck-pos computes it (sale_checks.h).
using ReceiptVat = VatTotal;

struct ReceiptPayment {
  int method = 0;  // eck.v1.PaymentMethod
  std::int64_t amount_minor = 0;
  std::string currency;
};

struct ReceiptSignature {
  std::uint64_t transaction_number = 0;
  std::uint64_t signature_counter = 0;
  std::string signature;   // base64
  std::string tse_serial;  // hex
  std::string algorithm;   // "ecdsa-plain-SHA256"
  std::string qr_code;     // "V0;..."
  std::time_t started_at = 0;
  std::time_t finished_at = 0;
  bool certified = false;
  std::string error;       // non-empty: signing failed (TSE outage)
};

struct Receipt {
  BusinessInfo business;
  std::string sale_id;
  std::string register_id;
  std::string location;
  std::string cashier;
  std::string currency;  // ISO 4217, e.g. "EUR"
  std::time_t started_at = 0;
  std::time_t finished_at = 0;
  bool training = false;
  bool abandoned = false;
  std::vector<ReceiptLine> lines;
  std::vector<ReceiptVat> vat;  // one per rate, in the order of the letters
  std::int64_t gross_minor = 0;
  std::vector<ReceiptPayment> payments;
  std::int64_t change_minor = 0;
  std::optional<ReceiptSignature> signature;
  std::vector<std::string> problems;
};

// 80 mm paper: 42 columns of text. Every line is at most `width` code points
// (a width below 1 counts as 1) and ends with '\n'. Long words (serials,
// signatures, the QR-code text) are split, amounts too long for their column
// move below their label.
std::string render_text(const Receipt& r, int width = 42);
// ESC/POS bytes for a thermal printer: initialise, the text above at 42
// columns (CP858 for the euro sign and umlauts, '?' for what CP858 lacks),
// bold double-height total, the QR code as a printer-drawn QR (GS ( k, model
// 2, exact qr_code bytes) in place of the QR-code text when signed, feed and
// partial cut.
std::string render_escpos(const Receipt& r);

// Shared formatting (also Z-report and export): "1234,56" / "-0,05";
// quantities "2", "1,25", "-0,5" (trailing zeros of the fraction dropped).
std::string format_minor(std::int64_t minor);
std::string format_milli(std::int64_t milli);
// "A" for the first VAT rate of a receipt, "B" for the second ... "Z", then
// "AA", "AB" ... (never needed in Germany, but never wrong).
std::string vat_letter(std::size_t index);
// "Bar", "EC-Karte", "Kreditkarte", "Elektronisch", "Gutschein", "Unbar" for
// eck.v1.PaymentMethod 1..6; "Unbekannt" for anything else.
std::string payment_method_name(int method);

}  // namespace eck::pos
