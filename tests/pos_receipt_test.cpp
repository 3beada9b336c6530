// The receipt renderer (services/pos/receipt.h): a golden signed sale, the
// width guarantee on many random receipts, money and quantity formatting at
// the extremes, the markers of the special cases, and the ESC/POS bytes
// (read back by a small interpreter of the commands the renderer may emit).
// No database, no printer.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "receipt.h"

namespace eck::pos {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// ------------------------------------------------------------------ helpers

// HasSubstr without gmock, which the tests do not link.
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no \"" << part << "\" in:\n" << text;
}

::testing::AssertionResult Lacks(const std::string& text, const std::string& part) {
  if (text.find(part) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << part << "\" in:\n" << text;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// Code points of valid UTF-8; -1 when it is not valid UTF-8 or holds a
// control character (the renderer must produce neither).
int code_points(std::string_view s) {
  int n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size() || c < 0x20 || c == 0x7F) return -1;
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += len;
  }
  return n;
}

// Every line of a text receipt is valid UTF-8 without control characters
// and at most `width` code points.
::testing::AssertionResult FitsWidth(const std::string& text, int width) {
  for (const auto& line : split_lines(text)) {
    const int n = code_points(line);
    if (n < 0 || n > width) {
      return ::testing::AssertionFailure() << "line of " << n << " code points (width " << width << "): \"" << line
                                           << "\" in:\n" << text;
    }
  }
  return ::testing::AssertionSuccess();
}

// What an ESC/POS printer would make of the bytes, for the commands the
// renderer uses; an unknown command or a control byte in the text fails.
struct Printout {
  std::vector<std::string> lines;  // text as sent (CP858), "<QR>" where a QR code is printed
  std::vector<std::string> qr;     // data stored for QR codes
  std::vector<std::string> commands;  // "ESC @", "GS V", ... in order
  std::string error;
};

Printout interpret(const std::string& b) {
  Printout p;
  std::string line;
  auto fail = [&](const std::string& why, std::size_t at) {
    p.error = why + " at byte " + std::to_string(at);
    return p;
  };
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(b[i]); };
  for (std::size_t i = 0; i < b.size();) {
    const unsigned char c = byte(i);
    if (c == '\n') {
      p.lines.push_back(line);
      line.clear();
      ++i;
    } else if (c == 0x1B) {  // ESC x [n]
      if (i + 1 >= b.size()) return fail("truncated ESC", i);
      const char cmd = b[i + 1];
      const std::size_t args = cmd == '@' ? 0 : std::string_view("REtad").find(cmd) != std::string_view::npos ? 1 : 9;
      if (args == 9 || i + 2 + args > b.size()) return fail(std::string("unknown ESC ") + cmd, i);
      p.commands.push_back(std::string("ESC ") + cmd);
      i += 2 + args;
    } else if (c == 0x1D) {  // GS ! n, GS V m n, GS ( k pL pH ...
      if (i + 2 >= b.size()) return fail("truncated GS", i);
      const char cmd = b[i + 1];
      p.commands.push_back(std::string("GS ") + cmd);
      if (cmd == '!') {
        i += 3;
      } else if (cmd == 'V') {
        if (i + 3 >= b.size() || byte(i + 2) != 66) return fail("GS V other than 66", i);
        i += 4;
      } else if (cmd == '(' && i + 5 < b.size() && b[i + 2] == 'k') {
        const std::size_t n = byte(i + 3) + 256u * byte(i + 4);
        if (n < 3 || i + 5 + n > b.size()) return fail("bad GS ( k length", i);
        if (b[i + 5] == '1' && b[i + 6] == 'P') p.qr.push_back(b.substr(i + 8, n - 3));
        if (b[i + 5] == '1' && b[i + 6] == 'Q') line += "<QR>";
        p.commands.back() += " " + b.substr(i + 6, 1);  // "GS ( A" model, "GS ( P" store, ...
        i += 5 + n;
      } else {
        return fail(std::string("unknown GS ") + cmd, i);
      }
    } else if (c < 0x20 || c == 0x7F) {
      return fail("control byte " + std::to_string(c), i);
    } else {
      line += char(c);
      ++i;
    }
  }
  if (!line.empty()) p.lines.push_back(line);
  return p;
}

// CP858 back to UTF-8 for the characters the tests print.
std::string from_cp858(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (static_cast<unsigned char>(ch)) {
      case 0x84: out += "ä"; break;
      case 0x94: out += "ö"; break;
      case 0x81: out += "ü"; break;
      case 0x8E: out += "Ä"; break;
      case 0x99: out += "Ö"; break;
      case 0x9A: out += "Ü"; break;
      case 0xE1: out += "ß"; break;
      case 0xD5: out += "€"; break;
      default: out += ch;
    }
  }
  return out;
}

// Times in the tests are German wall-clock times, whatever TZ the test
// machine has (a POSIX rule, so no tzdata is needed).
class Berlin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
  }
};

// 2024-03-14 10:15:02 CET and later.
constexpr std::time_t kStart = 1710407702;
constexpr std::time_t kEnd = 1710407800;

ReceiptSignature typical_signature() {
  ReceiptSignature s;
  s.transaction_number = 4711;
  s.signature_counter = 12345;
  s.signature = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==";
  s.tse_serial = "0ebe9a61634a5ad258fc4d4f91d4b99b25c5524a900489b8882d3cfad9d702a5";
  s.algorithm = "ecdsa-plain-SHA256";
  s.qr_code =
      "V0;KASSE-01;Kassenbeleg-V1;Beleg^17.53_0.00_0.00_0.00_0.00^17.53:Bar;4711;12345;"
      "2024-03-14T09:15:03.000Z;2024-03-14T09:16:41.000Z;ecdsa-plain-SHA256;unixTime;"
      "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==;"
      "BPr5+qyUKwY0G2Yk3Sk+0V9hBfGRDPEWfSP1D9oU1FMq";
  s.started_at = kStart + 1;
  s.finished_at = kEnd + 1;
  s.certified = true;
  return s;
}

// Coffee at 19 % with a discount, rolls and weighed apples at 7 %, paid in
// cash with change.
Receipt typical_sale() {
  Receipt r;
  r.business = {"Bäckerei Sonnenschein GmbH", {"Hauptstraße 1", "12345 Musterstadt"}, "12/345/67890", "DE123456789"};
  r.sale_id = "S-2024-000123";
  r.register_id = "KASSE-01";
  r.location = "Filiale Mitte";
  r.cashier = "Anna Schmidt";
  r.currency = "EUR";
  r.started_at = kStart;
  r.finished_at = kEnd;
  r.lines = {
      {1, "Kaffee Crema ganze Bohne 1 kg Premiumröstung", "KAF-1", 1000, 1299, 100, 1199, 1, 1900},
      {2, "Brötchen", "BR-1", 4000, 45, 0, 180, 2, 700},
      {3, "Äpfel Elstar", "AP-1", 1250, 299, 0, 374, 2, 700},
  };
  r.vat = {{1, 1900, 1008, 191, 1199}, {2, 700, 518, 36, 554}};
  r.gross_minor = 1753;
  r.payments = {{1, 2000, "EUR"}};
  r.change_minor = 247;
  r.signature = typical_signature();
  return r;
}

// ------------------------------------------------------------- formatting

// Each input formatted by `format` gives its expected text.
template <typename In, typename Format>
void ExpectFormats(Format format, std::initializer_list<std::pair<In, const char*>> cases) {
  for (const auto& [in, expected] : cases) EXPECT_EQ(format(in), expected) << "for " << in;
}

TEST(PosReceiptFormat, Money) {
  ExpectFormats<std::int64_t>(format_minor, {{0, "0,00"},
                                             {5, "0,05"},
                                             {-5, "-0,05"},
                                             {99, "0,99"},
                                             {100, "1,00"},
                                             {-100, "-1,00"},
                                             {123456, "1234,56"},
                                             {-123456, "-1234,56"},
                                             {kMax, "92233720368547758,07"},
                                             {kMin, "-92233720368547758,08"},
                                             {kMin + 1, "-92233720368547758,07"}});
}

TEST(PosReceiptFormat, Quantities) {
  ExpectFormats<std::int64_t>(format_milli, {{0, "0"},
                                             {1000, "1"},
                                             {2000, "2"},
                                             {-1000, "-1"},
                                             {1250, "1,25"},
                                             {-500, "-0,5"},
                                             {1, "0,001"},
                                             {-1, "-0,001"},
                                             {10, "0,01"},
                                             {1001, "1,001"},
                                             {10000, "10"},
                                             {kMax, "9223372036854775,807"},
                                             {kMin, "-9223372036854775,808"},
                                             {kMin / 1000 * 1000, "-9223372036854775"}});
}

TEST(PosReceiptFormat, VatLetters) {
  ExpectFormats<std::size_t>(vat_letter, {{0, "A"}, {1, "B"}, {25, "Z"}, {26, "AA"}, {27, "AB"}, {26 + 26 * 26, "AAA"}});
  EXPECT_FALSE(vat_letter(std::numeric_limits<std::size_t>::max()).empty());
}

TEST(PosReceiptFormat, PaymentMethods) {
  ExpectFormats<int>(payment_method_name, {{1, "Bar"},
                                           {2, "EC-Karte"},
                                           {3, "Kreditkarte"},
                                           {4, "Elektronisch"},
                                           {5, "Gutschein"},
                                           {6, "Unbar"},
                                           {0, "Unbekannt"},
                                           {99, "Unbekannt"},
                                           {-1, "Unbekannt"}});
}

// ------------------------------------------------------------------- text

using PosReceiptText = Berlin;

constexpr std::string_view kGolden = R"(        Bäckerei Sonnenschein GmbH
              Hauptstraße 1
            12345 Musterstadt
         Steuernr.: 12/345/67890
          USt-IdNr.: DE123456789
------------------------------------------
Kasse:                            KASSE-01
Standort:                    Filiale Mitte
Beleg:                       S-2024-000123
Bediener:                     Anna Schmidt
Datum:                          14.03.2024
Beginn:                           10:15:02
Ende:                             10:16:40
------------------------------------------
Kaffee Crema ganze Bohne 1 kg
Premiumröstung
  1 x 12,99                        12,99 A
  Rabatt                           -1,00 A
Brötchen
  4 x 0,45                          1,80 B
Äpfel Elstar
  1,25 x 2,99                       3,74 B
------------------------------------------
Summe EUR                          17,53
==========================================
Satz           Netto      MwSt    Brutto
A 19 %         10,08      1,91     11,99
B 7 %           5,18      0,36      5,54
------------------------------------------
Bar                                20,00
Rückgeld                            2,47
------------------------------------------
TSE-Transaktion:                      4711
Signaturzähler:                      12345
TSE-Start:             14.03.2024 10:15:03
TSE-Ende:              14.03.2024 10:16:41
Zeitformat:                       unixTime
TSE-Seriennr.:
0ebe9a61634a5ad258fc4d4f91d4b99b25c5524a90
0489b8882d3cfad9d702a5
Algorithmus:            ecdsa-plain-SHA256
Signatur:
AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHy
AhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/
QA==
QR-Code:
V0;KASSE-01;Kassenbeleg-V1;Beleg^17.53_0.0
0_0.00_0.00_0.00^17.53:Bar;4711;12345;2024
-03-14T09:15:03.000Z;2024-03-14T09:16:41.0
00Z;ecdsa-plain-SHA256;unixTime;AQIDBAUGBw
gJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMkJSYn
KCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==;BPr5+
qyUKwY0G2Yk3Sk+0V9hBfGRDPEWfSP1D9oU1FMq
)";

TEST_F(PosReceiptText, TypicalSignedSale) {
  const std::string text = render_text(typical_sale(), 42);
  EXPECT_EQ(text, kGolden);
  EXPECT_TRUE(FitsWidth(text, 42));
}

TEST_F(PosReceiptText, DefaultWidthIs42) { EXPECT_EQ(render_text(typical_sale()), kGolden); }

TEST_F(PosReceiptText, Training) {
  Receipt r = typical_sale();
  r.training = true;
  const std::string text = render_text(r);
  const std::string banner = "TRAININGSBUCHUNG – kein Verkauf";
  const std::size_t first = text.find(banner);
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_LT(first, text.find("Summe"));
  EXPECT_GT(text.rfind(banner), text.find("QR-Code"));
  EXPECT_TRUE(FitsWidth(text, 42));
}

TEST_F(PosReceiptText, Abandoned) {
  Receipt r = typical_sale();
  r.abandoned = true;
  r.payments.clear();
  r.change_minor = 0;
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "BELEGABBRUCH"));
  EXPECT_LT(text.find("BELEGABBRUCH"), text.find("Summe"));
  EXPECT_TRUE(Lacks(text, "Rückgeld"));
  EXPECT_TRUE(Lacks(text, "TRAININGSBUCHUNG"));
}

TEST_F(PosReceiptText, Unsigned) {
  Receipt r = typical_sale();
  r.signature.reset();
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "TSE-Signatur ausstehend"));
  EXPECT_TRUE(Lacks(text, "TSE-Transaktion"));
  EXPECT_TRUE(Lacks(text, "QR-Code"));
}

TEST_F(PosReceiptText, TseOutage) {
  Receipt r = typical_sale();
  r.signature = ReceiptSignature{};
  r.signature->error = "TSE nicht erreichbar (Zeitüberschreitung nach 5 s)";
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "TSE-Ausfall: TSE nicht erreichbar"));
  EXPECT_TRUE(Contains(text, "Zeitüberschreitung"));
  EXPECT_TRUE(Lacks(text, "TSE-Signatur ausstehend"));
  EXPECT_TRUE(Lacks(text, "TSE-Transaktion"));  // a failed signature has no transaction
  EXPECT_TRUE(FitsWidth(text, 42));
}

TEST_F(PosReceiptText, UncertifiedSigner) {
  Receipt r = typical_sale();
  r.signature->certified = false;
  const std::string text = render_text(r);
  // 43 code points: wrapped at the words on 80 mm paper, one line on wider.
  EXPECT_TRUE(Contains(text, "\nTSE nicht zertifiziert\n(Software-Signierer)\nTSE-Transaktion:"));
  EXPECT_TRUE(Contains(render_text(r, 48), "\nTSE nicht zertifiziert (Software-Signierer)\n"));
  EXPECT_TRUE(Contains(text, "TSE-Transaktion:"));
  EXPECT_TRUE(Lacks(render_text(typical_sale()), "nicht zertifiziert"));
}

TEST_F(PosReceiptText, ProblemsAreListedLast) {
  Receipt r = typical_sale();
  r.problems = {"payments - change = 17,00, gross 17,53", "line 3: quantity * unit price - discount = 3,73, declared 3,74"};
  const std::string text = render_text(r);
  const std::size_t hints = text.find("Hinweise:");
  ASSERT_NE(hints, std::string::npos) << text;
  EXPECT_GT(hints, text.find("QR-Code"));
  EXPECT_TRUE(Contains(text, "- payments - change = 17,00, gross 17,53\n"));
  EXPECT_TRUE(Contains(text, "- line 3: quantity * unit price - discount\n  = 3,73, declared 3,74\n"));
  EXPECT_TRUE(Lacks(render_text(typical_sale()), "Hinweise"));
}

TEST_F(PosReceiptText, ReturnRendersNegative) {
  Receipt r = typical_sale();
  r.lines = {{1, "Brötchen", "BR-1", -2000, 45, 0, -90, 2, 700}};
  r.vat = {{2, 700, -84, -6, -90}};
  r.gross_minor = -90;
  r.payments = {{1, -90, "EUR"}};
  r.change_minor = 0;
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "  -2 x 0,45                        -0,90 A\n"));
  EXPECT_TRUE(Contains(text, "Summe EUR                          -0,90\n"));
  EXPECT_TRUE(Contains(text, "A 7 %          -0,84     -0,06     -0,90\n"));
  EXPECT_TRUE(Contains(text, "Bar                                -0,90\n"));
  EXPECT_TRUE(Contains(text, "Rückgeld                            0,00\n"));
}

TEST_F(PosReceiptText, SaleOverMidnightDatesBothTimes) {
  Receipt r = typical_sale();
  r.started_at = kStart - 11 * 3600;  // 13.03.2024 23:15:02
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "Datum:                          14.03.2024\n"));
  EXPECT_TRUE(Contains(text, "Beginn:                13.03.2024 23:15:02\n"));
  EXPECT_TRUE(Contains(text, "Ende:                             10:16:40\n"));
}

TEST_F(PosReceiptText, MissingDataIsSaidNotInvented) {
  Receipt r;
  r.lines = {{7, "", "", 1000, 100, 0, 100, 1, 1900}};  // no name, no sku, rate not in r.vat
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "Kasse:                           unbekannt\n"));
  EXPECT_TRUE(Contains(text, "Datum:                           unbekannt\n"));
  EXPECT_TRUE(Contains(text, "Pos. 7\n  1 x 1,00                          1,00 ?\n"));
  EXPECT_TRUE(Contains(text, "Summe                               0,00\n"));
  EXPECT_TRUE(FitsWidth(text, 42));
}

TEST_F(PosReceiptText, NameFallsBackToSku) {
  Receipt r = typical_sale();
  r.lines[1].name.clear();
  EXPECT_TRUE(Contains(render_text(r), "\nBR-1\n  4 x 0,45"));
}

TEST_F(PosReceiptText, ControlCharactersAndBrokenUtf8AreNeutralised) {
  Receipt r = typical_sale();
  r.lines[1].name = "Brot\x1b@\tmit\nKruste \xc3(\xff\xe2\x82";
  const std::string text = render_text(r);
  EXPECT_TRUE(Contains(text, "Brot?@ mit Kruste ?(???\n"));
  EXPECT_TRUE(FitsWidth(text, 42));
}

TEST_F(PosReceiptText, HugeAmountsFallBackToBlocks) {
  Receipt r = typical_sale();
  r.lines = {{1, "Gold", "AU", kMax, kMax, kMax, kMin, 1, 1900}};
  r.vat = {{1, 1900, kMin, kMax, kMin}};
  r.gross_minor = kMin;
  r.change_minor = kMin;
  const std::string text = render_text(r);
  EXPECT_TRUE(FitsWidth(text, 42));
  // The amount before the discount is INT64_MIN + INT64_MAX: -0,01, without overflow.
  EXPECT_TRUE(Contains(text,
                       "Gold\n"
                       "  9223372036854775,807 x\n"
                       "  92233720368547758,07             -0,01 A\n"
                       "  Rabatt           -92233720368547758,07 A\n"));
  EXPECT_TRUE(Contains(text, "Summe EUR          -92233720368547758,08\n"));
  EXPECT_TRUE(Contains(text,
                       "A 19 %\n"
                       "  Netto            -92233720368547758,08\n"
                       "  MwSt              92233720368547758,07\n"
                       "  Brutto           -92233720368547758,08\n"));
  EXPECT_TRUE(Contains(text, "Rückgeld           -92233720368547758,08\n"));
}

// ------------------------------------------------------------------ random

// Pieces that names, ids and problems are made of: umlauts, the euro sign,
// words longer than a line, text that is not even UTF-8.
const std::vector<std::string> kPieces = {
    "Brötchen", "Äpfel", "Größe XL", "5 €", "Weißbier", "Kaffee", "1 kg", "ÖÜÄöüäß",
    "Donaudampfschifffahrtsgesellschaftskapitänsmütze", "0ebe9a61634a5ad258fc4d4f91d4b99b25c5524a900489b8882d3cfad9d702a5",
    "日本茶", "–", "\t", "\x1b", "\xff", "", " ", "€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"};

class RandomReceipts {
 public:
  explicit RandomReceipts(std::uint64_t seed) : rng_(seed) {}

  Receipt next() {
    Receipt r;
    r.business = {text(6), {text(4), text(3)}, text(1), text(1)};
    r.sale_id = text(2);
    r.register_id = text(2);
    r.location = text(2);
    r.cashier = text(2);
    r.currency = pick({"EUR", "", "CHF"});
    r.started_at = static_cast<std::time_t>(below(2'000'000'000));
    r.finished_at = r.started_at + static_cast<std::time_t>(below(100'000));
    r.training = below(4) == 0;
    r.abandoned = below(8) == 0;
    for (std::uint64_t i = 0, n = below(30); i < n; ++i) {
      r.lines.push_back({int(i + 1), text(8), text(1), amount(), amount(), amount(), amount(), int(below(7)),
                         int(below(3) == 0 ? amount() : std::int64_t(below(3000)))});
    }
    for (std::uint64_t i = 0, n = below(4); i < n; ++i) {
      r.vat.push_back({int(below(7)), int(below(3000)), amount(), amount(), amount()});
    }
    r.gross_minor = amount();
    for (std::uint64_t i = 0, n = below(4); i < n; ++i) r.payments.push_back({int(below(9)) - 1, amount(), pick({"EUR", "USD", ""})});
    r.change_minor = amount();
    if (below(5) != 0) {
      ReceiptSignature s;
      s.transaction_number = rng_();
      s.signature_counter = below(2) ? rng_() : 0;
      s.signature = text(3);
      s.tse_serial = text(2);
      s.algorithm = text(1);
      s.qr_code = text(10);
      s.started_at = below(2) ? r.started_at : 0;
      s.finished_at = r.finished_at;
      s.certified = below(2) == 0;
      s.error = below(4) == 0 ? text(5) : "";
      r.signature = s;
    }
    for (std::uint64_t i = 0, n = below(3); i < n; ++i) r.problems.push_back(text(12));
    return r;
  }

 private:
  std::uint64_t below(std::uint64_t n) { return rng_() % n; }

  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + below(options.size()));
  }

  std::string text(std::uint64_t max_pieces) {
    std::string s;
    for (std::uint64_t i = 0, n = below(max_pieces + 1); i < n; ++i) {
      if (i) s += ' ';
      s += kPieces[below(kPieces.size())];
    }
    return s;
  }

  // Mostly till-sized amounts, sometimes the extremes of int64.
  std::int64_t amount() {
    switch (below(6)) {
      case 0: return kMin;
      case 1: return kMax;
      case 2: return static_cast<std::int64_t>(rng_());
      default: return static_cast<std::int64_t>(below(200'000)) - 50'000;
    }
  }

  std::mt19937_64 rng_;
};

using PosReceiptRandom = Berlin;

TEST_F(PosReceiptRandom, EveryLineFitsTheWidth) {
  RandomReceipts gen(20240314);
  for (int i = 0; i < 2000; ++i) {
    const Receipt r = gen.next();
    ASSERT_TRUE(FitsWidth(render_text(r, 42), 42)) << "receipt " << i;
  }
}

TEST_F(PosReceiptRandom, OtherWidthsToo) {
  RandomReceipts gen(42);
  for (int width : {1, 2, 5, 10, 20, 32, 48, 64}) {
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(FitsWidth(render_text(gen.next(), width), width)) << "width " << width << ", receipt " << i;
    }
  }
}

TEST_F(PosReceiptRandom, EscposIsWellFormed) {
  RandomReceipts gen(7);
  for (int i = 0; i < 500; ++i) {
    const Receipt r = gen.next();
    const Printout p = interpret(render_escpos(r));
    ASSERT_EQ(p.error, "") << "receipt " << i;
    for (const auto& line : p.lines) ASSERT_LE(line.size(), 42u) << "receipt " << i << ": " << line;
    const bool qr = r.signature && !r.signature->qr_code.empty();
    ASSERT_EQ(p.qr.size(), qr ? 1u : 0u) << "receipt " << i;
    if (qr) {
      EXPECT_EQ(p.qr[0], r.signature->qr_code);
    }
  }
}

// ---------------------------------------------------------------- ESC/POS

using PosReceiptEscpos = Berlin;

TEST_F(PosReceiptEscpos, FramesTheReceipt) {
  const std::string b = render_escpos(typical_sale());
  EXPECT_EQ(b.substr(0, 2), "\x1b@");
  EXPECT_TRUE(Contains(b, std::string("\x1bt\x13", 3)));  // CP858
  EXPECT_EQ(b.substr(b.size() - 4), std::string("\x1dV\x42\x00", 4));
  const Printout p = interpret(b);
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.commands.front(), "ESC @");
  EXPECT_EQ(p.commands.back(), "GS V");
}

TEST_F(PosReceiptEscpos, QrCodeCommand) {
  const Receipt r = typical_sale();
  const std::string& qr = r.signature->qr_code;
  const std::string b = render_escpos(r);
  const std::size_t n = qr.size() + 3;
  const std::string store =
      std::string("\x1d(k", 3) + char(n & 0xFF) + char(n >> 8) + "1P0" + qr;
  EXPECT_TRUE(Contains(b, store));
  EXPECT_TRUE(Contains(b, std::string("\x1d(k\x04\x00" "1A2\x00", 9)));  // model 2
  EXPECT_TRUE(Contains(b, std::string("\x1d(k\x03\x00" "1E1", 8)));      // error correction M
  EXPECT_TRUE(Contains(b, std::string("\x1d(k\x03\x00" "1C", 7)));       // module size
  EXPECT_TRUE(Contains(b, std::string("\x1d(k\x03\x00" "1Q0", 8)));      // print
  EXPECT_LT(b.find(store), b.find(std::string("\x1d(k\x03\x00" "1Q0", 8)));
}

TEST_F(PosReceiptEscpos, LongQrCodeLengthHeader) {
  Receipt r = typical_sale();
  r.signature->qr_code = std::string(300, 'Q');  // 303 = pL 0x2F, pH 0x01
  const std::string b = render_escpos(r);
  EXPECT_TRUE(Contains(b, std::string("\x1d(k\x2f\x01" "1P0", 8) + std::string(300, 'Q')));
}

TEST_F(PosReceiptEscpos, NoQrWithoutSignature) {
  Receipt r = typical_sale();
  r.signature.reset();
  const Printout p = interpret(render_escpos(r));
  ASSERT_EQ(p.error, "");
  EXPECT_TRUE(p.qr.empty());
  EXPECT_EQ(p.commands.back(), "GS V");
}

TEST_F(PosReceiptEscpos, SameTextAsRenderText) {
  Receipt r = typical_sale();
  r.problems = {"Zahlung fehlt"};
  const Printout p = interpret(render_escpos(r));
  ASSERT_EQ(p.error, "");
  // The text receipt with the QR-code text drawn as a QR code instead.
  std::string expected = render_text(r);
  const std::size_t qr = expected.find("QR-Code:");
  expected.replace(qr, expected.find("---", qr) - qr, "<QR>\n");
  std::string printed;
  for (const auto& line : p.lines) printed += from_cp858(line) + '\n';
  EXPECT_EQ(printed, expected);
}

TEST_F(PosReceiptEscpos, Cp858) {
  Receipt r = typical_sale();
  r.lines[0].name = "äöüÄÖÜß € é – 日";
  const std::string b = render_escpos(r);
  EXPECT_TRUE(Contains(b, "\x84\x94\x81\x8e\x99\x9a\xe1 \xd5 \x82 - ?\n"));
  EXPECT_TRUE(Contains(b, "R\x81" "ckgeld"));
  EXPECT_TRUE(Contains(b, "B\x84" "ckerei"));
  for (const char* utf8 : {"ä", "ö", "ü", "Ä", "Ö", "Ü", "ß", "€", "–", "日"}) EXPECT_TRUE(Lacks(b, utf8));
}

TEST_F(PosReceiptEscpos, TotalIsBoldAndDoubleHeight) {
  const std::string b = render_escpos(typical_sale());
  const std::string on = std::string("\x1b" "E\x01\x1d!\x01", 6);
  const std::string off = std::string("\x1d!\x00\x1b" "E\x00", 6);
  const std::size_t at = b.find(on + "Summe EUR");
  ASSERT_NE(at, std::string::npos);
  EXPECT_NE(b.find("17,53\n" + off, at), std::string::npos);
}

TEST_F(PosReceiptEscpos, NoControlBytesFromNames) {
  Receipt r = typical_sale();
  r.lines[0].name = "Brot\x1d" "V\x42\x00";
  r.business.name = std::string("\x1b@\x1bt\x01", 5);
  const Printout p = interpret(render_escpos(r));
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.commands.front(), "ESC @");
  int cuts = 0;
  for (const auto& c : p.commands) cuts += c == "GS V";
  EXPECT_EQ(cuts, 1);
}

}  // namespace
}  // namespace eck::pos
