// receipt_render: how long eck-pos takes to render one receipt, in process
// (no database): a typical signed receipt of --lines lines (default 5: two
// VAT rates, a discount, cash with change, the TSE block and QR text), as
// 42-column text and as ESC/POS bytes, --receipts times each (default
// 20000). Prints text_us_p50/p99 and escpos_us_p50/p99 per receipt, and
// receipts_per_s for text. The figure: under 1 ms per receipt.
#include <fmt/format.h>

#include "bench.h"
#include "receipt.h"

namespace eck::bench {

namespace {

pos::Receipt sample_receipt(int lines) {
  pos::Receipt r;
  r.business = {"Bioladen Sonnenschein GmbH", {"Hauptstraße 1", "12345 Musterstadt"}, "12/345/67890",
                "DE123456789"};
  r.sale_id = "01a20dce-b04a-7b18-ae31-f04f037ce9be";
  r.register_id = "KASSE-01";
  r.location = "store-1";
  r.cashier = "Anna";
  r.currency = "EUR";
  r.started_at = 1'795'000'000;
  r.finished_at = r.started_at + 42;
  std::int64_t gross19 = 0, gross7 = 0;
  for (int i = 1; i <= lines; ++i) {
    const bool reduced = i % 2 == 0;
    const std::int64_t price = 199 + 37 * i, qty = 1000 * (1 + i % 3), discount = i == 2 ? 50 : 0;
    const std::int64_t total = price * qty / 1000 - discount;
    (reduced ? gross7 : gross19) += total;
    r.lines.push_back({i, fmt::format("Bio-Artikel Nummer {} mit einem längeren Namen", i),
                       fmt::format("SKU-{}", i), qty, price, discount, total, reduced ? 2 : 1,
                       reduced ? 700 : 1900});
  }
  for (auto [cat, rate, gross] : {std::tuple{1, 1900, gross19}, std::tuple{2, 700, gross7}}) {
    const std::int64_t vat = (gross * rate + (10000 + rate) / 2) / (10000 + rate);
    r.vat.push_back({cat, rate, gross - vat, vat, gross});
  }
  r.gross_minor = gross19 + gross7;
  const std::int64_t tendered = (r.gross_minor / 1000 + 1) * 1000;
  r.payments.push_back({1, tendered, "EUR"});
  r.change_minor = tendered - r.gross_minor;
  pos::ReceiptSignature sig;
  sig.transaction_number = 4711;
  sig.signature_counter = 9422;
  sig.signature = std::string(88, 'Q');
  sig.tse_serial = std::string(64, 'a');
  sig.algorithm = "ecdsa-plain-SHA256";
  sig.qr_code = "V0;KASSE-01;Kassenbeleg-V1;Beleg^12.34_5.67_0.00_0.00_0.00^18.01:Bar;4711;9422;" +
                std::string(120, 'x');
  sig.started_at = r.started_at;
  sig.finished_at = r.finished_at;
  r.signature = sig;
  return r;
}

template <typename Render>
Latencies time_renders(const pos::Receipt& r, std::int64_t n, Render render, std::size_t& bytes) {
  Latencies l;
  l.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    const std::string out = render(r);
    l.add(Clock::now() - t0);
    bytes = out.size();
  }
  return l;
}

}  // namespace

int run_receipt_render(Args& args) {
  const auto n = args.integer("--receipts", 1, 10'000'000).value_or(20000);
  const auto lines = static_cast<int>(args.integer("--lines", 1, 1000).value_or(5));
  args.finish();
  const pos::Receipt r = sample_receipt(lines);
  std::size_t text_bytes = 0, escpos_bytes = 0;
  const auto t0 = Clock::now();
  auto text = time_renders(r, n, [](const pos::Receipt& x) { return pos::render_text(x); }, text_bytes);
  const auto took = Clock::now() - t0;
  auto escpos = time_renders(r, n, [](const pos::Receipt& x) { return pos::render_escpos(x); }, escpos_bytes);
  Summary("receipt_render")
      .add("receipts", n)
      .add("lines", lines)
      .add("text_us_p50", text.percentile_us(0.5))
      .add("text_us_p99", text.percentile_us(0.99))
      .add("text_us_max", text.max_us())
      .add("escpos_us_p50", escpos.percentile_us(0.5))
      .add("escpos_us_p99", escpos.percentile_us(0.99))
      .add("receipts_per_s",
           static_cast<double>(n) / std::chrono::duration<double>(took).count(), 0)
      .add("text_bytes", static_cast<std::uint64_t>(text_bytes))
      .add("escpos_bytes", static_cast<std::uint64_t>(escpos_bytes))
      .print();
  return 0;
}

}  // namespace eck::bench
