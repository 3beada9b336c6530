// Receipt rendering (see receipt.h for what a receipt carries).
//
// A receipt is laid out once as lines of at most `width` code points, each
// with a kind (plain, bold, the total, the QR-code text). render_text joins
// the lines; render_escpos turns the same lines into printer commands, so the
// paper and the text always say the same.
//
// Everything from outside (names typed at the till, ids, problems, the TSE's
// strings) goes through clean() before it is measured: afterwards every code
// point is one printable column, which is what makes the width guarantee and
// the one-byte-per-column CP858 conversion hold, and no byte of a name can
// reach the printer as a command.
#include "receipt.h"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace eck::pos {
namespace {

// Amounts are int64, but "line total + discount" of two int64 is not; 128
// bits hold every sum of two of them, so no input can overflow.
using Wide = __int128;
using UWide = unsigned __int128;

// ---------------------------------------------------------------- numbers

// value / 10^decimals with a decimal comma, integers only ("-0,05").
// drop_zeros: "1,25" instead of "1,250", "2" instead of "2,000".
std::string format_fixed(Wide value, int decimals, bool drop_zeros) {
  // The magnitude as unsigned, so the most negative value has one too.
  UWide mag = value < 0 ? UWide(0) - UWide(value) : UWide(value);
  char buf[64];
  std::size_t begin = sizeof buf;
  const std::size_t end = sizeof buf;
  int digits = 0;
  do {
    buf[--begin] = char('0' + int(mag % 10));
    mag /= 10;
    if (++digits == decimals) buf[--begin] = ',';
  } while (mag != 0 || digits <= decimals);
  if (value < 0) buf[--begin] = '-';
  std::string_view s(buf + begin, end - begin);
  if (drop_zeros && decimals > 0) {
    s.remove_suffix(s.size() - 1 - s.find_last_not_of('0'));
    if (s.back() == ',') s.remove_suffix(1);
  }
  return std::string(s);
}

std::string money(Wide minor) { return format_fixed(minor, 2, false); }

// 1900 -> "19 %", 1070 -> "10,7 %".
std::string format_rate(int rate_bp) { return format_fixed(rate_bp, 2, true) + " %"; }

std::string two_digits(int n) { return {char('0' + n / 10 % 10), char('0' + n % 10)}; }

// ------------------------------------------------------------------ UTF-8

constexpr char32_t kInvalid = 0xFFFFFFFF;

// The code point at s[i], advancing i past it; kInvalid (advancing one byte)
// for a malformed, overlong or surrogate sequence.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    ++i;
    return lead;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2, cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3, cp = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4, cp = lead & 0x07u;
  } else {
    ++i;
    return kInvalid;
  }
  if (s.size() - i < len) return ++i, kInvalid;
  for (std::size_t k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return ++i, kInvalid;
    cp = (cp << 6) | (c & 0x3Fu);
  }
  const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
  if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return ++i, kInvalid;
  i += len;
  return cp;
}

// See the file comment. Tabs and line breaks become spaces (a name must not
// break the layout), other controls (C0, DEL, C1) and malformed UTF-8 '?'.
std::string clean(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {  // printable ASCII: the common case
      out += char(c);
      ++i;
      continue;
    }
    const std::size_t start = i;
    const char32_t cp = next_code_point(s, i);
    if (cp == '\t' || cp == '\n' || cp == '\r') {
      out += ' ';
    } else if (cp == kInvalid || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      out += '?';
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out;
}

// Columns of clean text: one per code point, i.e. per byte that is not a
// UTF-8 continuation byte.
int columns(std::string_view s) {
  return static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Bytes of the first n code points of clean text.
std::size_t prefix_bytes(std::string_view s, int n) {
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((s[i] & 0xC0) != 0x80 && n-- == 0) break;
  }
  return i;
}

// Clean text cut into pieces of at most `width` code points, wherever it is
// (hex and base64 have no spaces to break at).
void split_hard(std::string_view s, int width, std::vector<std::string>& out) {
  while (columns(s) > width) {
    const std::size_t cut = prefix_bytes(s, width);
    out.emplace_back(s.substr(0, cut));
    s.remove_prefix(cut);
  }
  if (!s.empty()) out.emplace_back(s);
}

// Clean text word-wrapped to `width` columns; words longer than a line are
// split. Runs of spaces collapse. Empty text gives no lines.
std::vector<std::string> wrap(std::string_view text, int width) {
  width = std::max(width, 1);
  std::vector<std::string> out;
  std::string line;
  int line_cols = 0;
  auto flush = [&] {
    if (!line.empty()) out.push_back(std::move(line));
    line.clear();
    line_cols = 0;
  };
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (word.empty()) continue;
    const int cols = columns(word);
    if (cols > width) {
      // Start the long word on a fresh line; its last piece stays open so
      // the next word may follow it.
      flush();
      split_hard(word, width, out);
      line = std::move(out.back());
      out.pop_back();
      line_cols = columns(line);
    } else if (line.empty()) {
      line.assign(word);
      line_cols = cols;
    } else if (line_cols + 1 + cols <= width) {
      (line += ' ') += word;
      line_cols += 1 + cols;
    } else {
      flush();
      line.assign(word);
      line_cols = cols;
    }
  }
  flush();
  return out;
}

// ------------------------------------------------------------------ CP858

// CP858 bytes of U+00A0..U+00FF: CP850's Latin-1 repertoire (CP858 is CP850
// with the euro sign at 0xD5 in place of the dotless i, which is not Latin-1).
constexpr std::array<unsigned char, 96> kLatin1ToCp858 = {
    0xFF, 0xAD, 0xBD, 0x9C, 0xCF, 0xBE, 0xDD, 0xF5, 0xF9, 0xB8, 0xA6, 0xAE, 0xAA, 0xF0, 0xA9, 0xEE,  // U+00A0
    0xF8, 0xF1, 0xFD, 0xFC, 0xEF, 0xE6, 0xF4, 0xFA, 0xF7, 0xFB, 0xA7, 0xAF, 0xAC, 0xAB, 0xF3, 0xA8,  // U+00B0
    0xB7, 0xB5, 0xB6, 0xC7, 0x8E, 0x8F, 0x92, 0x80, 0xD4, 0x90, 0xD2, 0xD3, 0xDE, 0xD6, 0xD7, 0xD8,  // U+00C0
    0xD1, 0xA5, 0xE3, 0xE0, 0xE2, 0xE5, 0x99, 0x9E, 0x9D, 0xEB, 0xE9, 0xEA, 0x9A, 0xED, 0xE8, 0xE1,  // U+00D0
    0x85, 0xA0, 0x83, 0xC6, 0x84, 0x86, 0x91, 0x87, 0x8A, 0x82, 0x88, 0x89, 0x8D, 0xA1, 0x8C, 0x8B,  // U+00E0
    0xD0, 0xA4, 0x95, 0xA2, 0x93, 0xE4, 0x94, 0xF6, 0x9B, 0x97, 0xA3, 0x96, 0x81, 0xEC, 0xE7, 0x98,  // U+00F0
};

// One byte per code point, so a line keeps its width on paper. Typographic
// dashes and quotes (the training banner has a dash) fall back to ASCII,
// anything else CP858 lacks to '?'.
char cp858(char32_t cp) {
  if (cp < 0x80) return char(cp);
  if (cp >= 0xA0 && cp <= 0xFF) return char(kLatin1ToCp858[cp - 0xA0]);
  switch (cp) {
    case 0x20AC: return char(0xD5);                                   // €
    case 0x2010: case 0x2011: case 0x2013: case 0x2014: case 0x2212: return '-';
    case 0x2018: case 0x2019: case 0x201A: return '\'';
    case 0x201C: case 0x201D: case 0x201E: return '"';
    default: return '?';
  }
}

void append_cp858(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) out += cp858(next_code_point(text, i));
}

// ----------------------------------------------------------------- layout

enum class Kind : std::uint8_t {
  plain,
  bold,   // banners and warnings
  total,  // the gross total: bold and double height on paper
  qr,     // the QR-code text: a printer-drawn QR code on paper instead
};

struct Line {
  Kind kind;
  std::string text;
};

// Lines of at most `width` code points. The functions that take text from
// outside clean it; emit() splits whatever is still too long, so the width
// holds even where a layout choice does not fit a tiny width.
class Layout {
 public:
  explicit Layout(int width) : width_(std::max(width, 1)) { lines_.reserve(64); }

  int width() const { return width_; }
  const std::vector<Line>& lines() const { return lines_; }

  void emit(std::string text, Kind kind = Kind::plain) {
    after_rule_ = false;
    if (columns(text) <= width_) {
      lines_.push_back({kind, std::move(text)});
      return;
    }
    std::vector<std::string> pieces;
    split_hard(text, width_, pieces);
    for (auto& p : pieces) lines_.push_back({kind, std::move(p)});
  }

  // A line across the paper between two sections; a section that printed
  // nothing (no VAT, no payments) does not leave two rules in a row.
  void rule(char c) {
    if (after_rule_) return;
    emit(std::string(std::size_t(width_), c));
    after_rule_ = true;
  }

  void centered(std::string_view text, Kind kind = Kind::plain) {
    for (auto& l : wrap(clean(text), width_)) {
      emit(std::string(std::size_t((width_ - columns(l)) / 2), ' ') + l, kind);
    }
  }

  // Wrapped text whose first line starts with `first` and whose other lines
  // are indented as far ("- " for a list item).
  void paragraph(std::string_view text, std::string_view first = {}, Kind kind = Kind::plain) {
    const int indent = columns(first);
    bool is_first = true;
    for (auto& l : wrap(clean(text), width_ - indent)) {
      emit((is_first ? std::string(first) : std::string(std::size_t(indent), ' ')) + l, kind);
      is_first = false;
    }
  }

  // "Label:            value" on one line when it fits, else the label on
  // its own line and the value wrapped below it (serials, signatures).
  void field(std::string_view label, std::string_view value, Kind kind = Kind::plain) {
    const std::string v = clean(value);
    if (v.empty()) return emit(std::string(label), kind);
    const int room = width_ - columns(label) - columns(v);
    if (room >= 1) {
      emit(std::string(label) + std::string(std::size_t(room), ' ') + v, kind);
      return;
    }
    emit(std::string(label), kind);
    for (auto& l : wrap(v, width_)) emit(std::move(l), kind);
  }

  // Label left (indented), amount right-aligned so that it ends two columns
  // before the edge; those two columns hold " A", the VAT letter, when there
  // is a tag. A label that does not fit beside the amount wraps above it.
  void amount(std::string_view label, std::string_view value, std::string_view tag = {}, int indent = 0,
              Kind kind = Kind::plain) {
    const std::string right = tag.empty() ? std::string(value) : std::string(value) + ' ' + std::string(tag);
    const int right_cols = columns(right);
    const int edge = std::max(tag.empty() ? width_ - 2 : width_, right_cols);
    const std::string pad(std::size_t(indent), ' ');
    std::vector<std::string> left = wrap(clean(label), width_ - indent);
    const int last_cols = left.empty() ? 0 : indent + columns(left.back());
    std::string tail;
    if (!left.empty() && last_cols + 1 + right_cols <= edge) {
      tail = pad + left.back();
      left.pop_back();
    }
    for (auto& l : left) emit(pad + l, kind);
    const int tail_cols = tail.empty() ? 0 : last_cols;
    emit(tail + std::string(std::size_t(std::max(edge - tail_cols - right_cols, 0)), ' ') + right, kind);
  }

 private:
  int width_;
  std::vector<Line> lines_;
  bool after_rule_ = false;
};

// ---------------------------------------------------------------- content

// Epoch 0 stands for a time the till did not send.
bool local_time(std::time_t t, std::tm& out) { return t != 0 && localtime_r(&t, &out) != nullptr; }

std::string date_of(const std::tm& tm) {
  return two_digits(tm.tm_mday) + '.' + two_digits(tm.tm_mon + 1) + '.' + std::to_string(tm.tm_year + 1900);
}

std::string clock_of(const std::tm& tm) {
  return two_digits(tm.tm_hour) + ':' + two_digits(tm.tm_min) + ':' + two_digits(tm.tm_sec);
}

std::string date_time(std::time_t t) {
  std::tm tm{};
  return local_time(t, tm) ? date_of(tm) + ' ' + clock_of(tm) : std::string("unbekannt");
}

const std::string& or_unknown(const std::string& s) {
  static const std::string unknown = "unbekannt";
  return s.empty() ? unknown : s;
}

void business(Layout& l, const BusinessInfo& b) {
  l.centered(b.name, Kind::bold);
  for (const auto& a : b.address) l.centered(a);
  if (!b.tax_number.empty()) l.centered("Steuernr.: " + b.tax_number);
  if (!b.vat_id.empty()) l.centered("USt-IdNr.: " + b.vat_id);
}

// Training and abandoned sales are no sales: say so where nobody can miss
// it, at the top and at the bottom.
void banners(Layout& l, const Receipt& r) {
  if (!r.training && !r.abandoned) return;
  l.rule('*');
  if (r.training) l.centered("TRAININGSBUCHUNG – kein Verkauf", Kind::bold);
  if (r.abandoned) l.centered("BELEGABBRUCH", Kind::bold);
  l.rule('*');
}

// Date of the end of the sale (of the start when it has none); start and end
// times, with their own date when the sale ran over midnight.
void sale_info(Layout& l, const Receipt& r) {
  l.field("Kasse:", or_unknown(r.register_id));
  if (!r.location.empty()) l.field("Standort:", r.location);
  l.field("Beleg:", or_unknown(r.sale_id));
  l.field("Bediener:", or_unknown(r.cashier));
  std::tm start{}, end{};
  const bool has_start = local_time(r.started_at, start);
  const bool has_end = local_time(r.finished_at, end);
  const std::string date = has_end ? date_of(end) : has_start ? date_of(start) : "unbekannt";
  l.field("Datum:", date);
  auto time_on_date = [&](bool has, const std::tm& tm) {
    if (!has) return std::string("unbekannt");
    return date_of(tm) == date ? clock_of(tm) : date_of(tm) + ' ' + clock_of(tm);
  };
  l.field("Beginn:", time_on_date(has_start, start));
  l.field("Ende:", time_on_date(has_end, end));
}

// The VAT letter of a rate: its position in r.vat. "?" when the rate is not
// there (eck-pos reports that as a problem).
std::string letter_of(const Receipt& r, int category, int rate_bp) {
  for (std::size_t i = 0; i < r.vat.size(); ++i) {
    if (r.vat[i].vat_category == category && r.vat[i].vat_rate_bp == rate_bp) return vat_letter(i);
  }
  return "?";
}

// Name, then "quantity x unit price" with the amount before the discount and
// the discount as a negative amount below it, so that the amount column adds
// up to the line total (quantity * unit price - discount) and to the sum.
void item(Layout& l, const Receipt& r, const ReceiptLine& line) {
  const std::string& name = !line.name.empty() ? line.name : line.sku;
  l.paragraph(!name.empty() ? name : "Pos. " + std::to_string(line.line_no));
  const std::string tag = letter_of(r, line.vat_category, line.vat_rate_bp);
  const std::string qty = format_milli(line.quantity_milli) + " x " + format_minor(line.unit_price_minor);
  l.amount(qty, money(Wide(line.line_total_minor) + line.discount_minor), tag, 2);
  if (line.discount_minor != 0) l.amount("Rabatt", money(-Wide(line.discount_minor)), tag, 2);
}

void total(Layout& l, const Receipt& r) {
  l.rule('-');
  l.amount(r.currency.empty() ? std::string("Summe") : "Summe " + r.currency, money(r.gross_minor), {}, 0,
           Kind::total);
  l.rule('=');
}

// Per rate: a table of four columns when everything fits in them, else one
// block per rate (huge amounts, narrow paper).
void vat_table(Layout& l, const Receipt& r) {
  if (r.vat.empty()) return;
  const int col = (l.width() - 2) / 4;
  std::vector<std::array<std::string, 4>> rows;
  bool fits = col >= 7;
  for (std::size_t i = 0; i < r.vat.size(); ++i) {
    const ReceiptVat& v = r.vat[i];
    rows.push_back({vat_letter(i) + ' ' + format_rate(v.vat_rate_bp), money(v.net_minor), money(v.vat_minor),
                    money(v.gross_minor)});
    for (const auto& cell : rows.back()) fits = fits && columns(cell) < col;
  }
  if (!fits) {
    for (const auto& row : rows) {
      l.emit(row[0]);
      l.amount("Netto", row[1], {}, 2);
      l.amount("MwSt", row[2], {}, 2);
      l.amount("Brutto", row[3], {}, 2);
    }
    return;
  }
  // The rate column is as wide as what the three amounts leave.
  const int first = l.width() - 2 - 3 * col;
  auto table_row = [&](const std::array<std::string, 4>& cells) {
    std::string s = cells[0] + std::string(std::size_t(first - columns(cells[0])), ' ');
    for (std::size_t c = 1; c < 4; ++c) s += std::string(std::size_t(col - columns(cells[c])), ' ') + cells[c];
    l.emit(std::move(s));
  };
  table_row({"Satz", "Netto", "MwSt", "Brutto"});
  for (const auto& row : rows) table_row(row);
}

// Payments by method (with their currency when it is not the sale's), then
// the change whenever cash was involved or change was given.
void payments(Layout& l, const Receipt& r) {
  if (r.payments.empty() && r.change_minor == 0) return;
  l.rule('-');
  bool cash = false;
  for (const auto& p : r.payments) {
    cash = cash || p.method == 1;
    std::string label = payment_method_name(p.method);
    if (!p.currency.empty() && p.currency != r.currency) label += ' ' + p.currency;
    l.amount(label, money(p.amount_minor));
  }
  if (cash || r.change_minor != 0) l.amount("Rückgeld", money(r.change_minor));
}

// What the TSE says; fields it did not send are left out rather than
// printed as zero.
void tse(Layout& l, const Receipt& r) {
  l.rule('-');
  if (!r.signature) {
    l.paragraph("TSE-Signatur ausstehend", {}, Kind::bold);
    return;
  }
  const ReceiptSignature& s = *r.signature;
  if (!s.error.empty()) {
    l.paragraph("TSE-Ausfall: " + s.error, {}, Kind::bold);
  } else if (!s.certified) {
    l.paragraph("TSE nicht zertifiziert (Software-Signierer)", {}, Kind::bold);
  }
  if (s.transaction_number != 0) l.field("TSE-Transaktion:", std::to_string(s.transaction_number));
  if (s.signature_counter != 0) l.field("Signaturzähler:", std::to_string(s.signature_counter));
  if (s.started_at != 0) l.field("TSE-Start:", date_time(s.started_at));
  if (s.finished_at != 0) l.field("TSE-Ende:", date_time(s.finished_at));
  if (s.started_at != 0 || s.finished_at != 0) l.field("Zeitformat:", "unixTime");
  if (!s.tse_serial.empty()) l.field("TSE-Seriennr.:", s.tse_serial);
  if (!s.algorithm.empty()) l.field("Algorithmus:", s.algorithm);
  if (!s.signature.empty()) l.field("Signatur:", s.signature);
  if (!s.qr_code.empty()) l.field("QR-Code:", s.qr_code, Kind::qr);
}

void problems(Layout& l, const Receipt& r) {
  if (r.problems.empty()) return;
  l.rule('-');
  l.emit("Hinweise:", Kind::bold);
  for (const auto& p : r.problems) l.paragraph(p, "- ");
}

Layout lay_out(const Receipt& r, int width) {
  Layout l(width);
  business(l, r.business);
  banners(l, r);
  l.rule('-');
  sale_info(l, r);
  l.rule('-');
  for (const auto& line : r.lines) item(l, r, line);
  total(l, r);
  vat_table(l, r);
  payments(l, r);
  tse(l, r);
  problems(l, r);
  banners(l, r);
  return l;
}

// --------------------------------------------------------------- ESC/POS

constexpr int kPaperColumns = 42;    // font A on 80 mm paper
constexpr unsigned char kQrModule = 5;  // dots per QR module: ~3 cm for a receipt's QR text
constexpr std::size_t kQrMaxBytes = 7089;  // GS ( k <fn 80> limit; longer is printed as text

void put(std::string& out, std::initializer_list<unsigned char> bytes) {
  for (unsigned char b : bytes) out += char(b);
}

// GS ( k: model 2, module size, error correction M, store the data (exact
// bytes: the QR code carries data to verify, not text to print), print.
void append_qr(std::string& out, std::string_view data) {
  const std::size_t n = data.size() + 3;  // pL pH count cn, fn, m and the data
  put(out, {0x1B, 'a', 1});  // centre
  put(out, {0x1D, '(', 'k', 4, 0, '1', 'A', '2', 0});
  put(out, {0x1D, '(', 'k', 3, 0, '1', 'C', kQrModule});
  put(out, {0x1D, '(', 'k', 3, 0, '1', 'E', '1'});
  put(out, {0x1D, '(', 'k', static_cast<unsigned char>(n & 0xFF), static_cast<unsigned char>(n >> 8), '1', 'P', '0'});
  out.append(data);
  put(out, {0x1D, '(', 'k', 3, 0, '1', 'Q', '0'});
  put(out, {'\n', 0x1B, 'a', 0});
}

void append_line(std::string& out, const Line& line) {
  switch (line.kind) {
    case Kind::bold:
      put(out, {0x1B, 'E', 1});
      append_cp858(out, line.text);
      put(out, {'\n', 0x1B, 'E', 0});
      return;
    case Kind::total:
      put(out, {0x1B, 'E', 1, 0x1D, '!', 0x01});  // bold, double height (width stays: 42 columns)
      append_cp858(out, line.text);
      put(out, {'\n', 0x1D, '!', 0x00, 0x1B, 'E', 0});
      return;
    case Kind::plain:
    case Kind::qr:
      append_cp858(out, line.text);
      out += '\n';
      return;
  }
}

}  // namespace

std::string format_minor(std::int64_t minor) { return money(minor); }

std::string format_milli(std::int64_t milli) { return format_fixed(milli, 3, true); }

std::string vat_letter(std::size_t index) {
  // Bijective base 26 like spreadsheet columns: A..Z, AA, AB, ...
  std::string s;
  for (UWide n = UWide(index) + 1; n != 0; n = (n - 1) / 26) s.insert(s.begin(), char('A' + int((n - 1) % 26)));
  return s;
}

std::string payment_method_name(int method) {
  switch (method) {
    case 1: return "Bar";
    case 2: return "EC-Karte";
    case 3: return "Kreditkarte";
    case 4: return "Elektronisch";
    case 5: return "Gutschein";
    case 6: return "Unbar";
    default: return "Unbekannt";
  }
}

std::string render_text(const Receipt& r, int width) {
  const Layout l = lay_out(r, width);
  std::size_t size = 0;
  for (const auto& line : l.lines()) size += line.text.size() + 1;
  std::string out;
  out.reserve(size);
  for (const auto& line : l.lines()) (out += line.text) += '\n';
  return out;
}

std::string render_escpos(const Receipt& r) {
  const Layout l = lay_out(r, kPaperColumns);
  std::string out;
  out.reserve(4096);
  put(out, {0x1B, '@'});        // initialise
  put(out, {0x1B, 'R', 0});     // ASCII as is: the German set would turn [\]{|}~@ into umlauts
  put(out, {0x1B, 't', 19});    // code page CP858 (CP850 with €)
  const bool draw_qr = r.signature && !r.signature->qr_code.empty() && r.signature->qr_code.size() <= kQrMaxBytes;
  bool qr_drawn = false;
  for (const auto& line : l.lines()) {
    if (line.kind == Kind::qr && draw_qr) {
      if (!qr_drawn) append_qr(out, r.signature->qr_code);
      qr_drawn = true;
      continue;
    }
    append_line(out, line);
  }
  put(out, {0x1B, 'd', 3});        // feed past the tear bar
  put(out, {0x1D, 'V', 66, 0});    // feed to the cutter, partial cut
  return out;
}

}  // namespace eck::pos
