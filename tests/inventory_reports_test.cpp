// The ops commands of eck-inventory (levels, movements, unknown, check)
// against a real PostgreSQL: each test gets its own database with the
// inventory schema migrated, writes ledger rows directly with SQL (the
// daemon is not involved) and checks the printed report and exit code.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "eck/db.h"
#include "eck/migrate.h"
#include "reports.h"
#include "support/test_pg.h"

namespace eck {
MigrationSet inventory_migrations();
}

namespace eck::inventory {
namespace {

// HasSubstr without gmock, which the tests do not link.
::testing::AssertionResult Contains(const char* text_expr, const char* part_expr, const std::string& text,
                                    const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " does not contain " << part_expr << " (\"" << part
                                       << "\"); it is:\n" << text;
}

::testing::AssertionResult Lacks(const char* text_expr, const char* part_expr, const std::string& text,
                                 const std::string& part) {
  if (text.find(part) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " contains " << part_expr << " (\"" << part
                                       << "\"); it is:\n" << text;
}

struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
};

class InventoryReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<Database>(DatabaseOptions{tdb_.url(), "inventory", "inventory-reports-test"});
    migrate(db_->connection(), "inventory", {runtime_migrations(), inventory_migrations()});
  }

  Outcome run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    Outcome o;
    o.code = run_report(*db_, args, out, err);
    o.out = out.str();
    o.err = err.str();
    return o;
  }

  void sql(const std::string& text) {
    pqxx::work tx(db_->connection());
    tx.exec(text);
    tx.commit();
  }

  std::int64_t location(const std::string& code) {
    pqxx::work tx(db_->connection());
    auto id = tx.exec_params1("INSERT INTO location (code, first_seq) VALUES ($1, 1) RETURNING id", code)[0]
                  .as<std::int64_t>();
    tx.commit();
    return id;
  }

  // A product the catalog described.
  std::int64_t product(const std::string& sku) {
    pqxx::work tx(db_->connection());
    auto id = tx.exec_params1("INSERT INTO product (sku, name, created_seq, catalog_seq)"
                              " VALUES ($1, $1, 1, 1) RETURNING id",
                              sku)[0]
                  .as<std::int64_t>();
    tx.commit();
    return id;
  }

  // A product an event named before the catalog did: with a sku, or (sku
  // empty) known by its barcodes only, or by nothing at all.
  std::int64_t unknown_product(const std::string& sku, const std::vector<std::string>& barcodes,
                               std::int64_t since_seq, const std::string& origin) {
    pqxx::work tx(db_->connection());
    auto id = tx.exec_params1("INSERT INTO product (sku, created_seq, unknown_since_seq, unknown_origin)"
                              " VALUES (NULLIF($1, ''), $2, $2, $3) RETURNING id",
                              sku, since_seq, origin)[0]
                  .as<std::int64_t>();
    for (const auto& b : barcodes)
      tx.exec_params("INSERT INTO product_barcode (barcode, product_id) VALUES ($1, $2)", b, id);
    tx.commit();
    return id;
  }

  void reorder_point(std::int64_t product, std::int64_t location, std::int64_t point_milli) {
    pqxx::work tx(db_->connection());
    tx.exec_params("INSERT INTO reorder_point (product_id, location_id, point_milli, armed, set_seq)"
                   " VALUES ($1, $2, $3, true, 1)",
                   product, location, point_milli);
    tx.commit();
  }

  // One movement the way the daemon records it: level_after is the running
  // sum and stock_level follows.
  void move(std::int64_t product, std::int64_t location, std::int64_t quantity_milli,
            const std::string& reason = "receipt", const std::string& reference = "R-1", int line_no = 0) {
    std::int64_t& level = levels_[{product, location}];
    level += quantity_milli;
    ++seq_;
    pqxx::work tx(db_->connection());
    insert_movement(tx, product, location, quantity_milli, level, reason, reference, line_no);
    tx.exec_params("INSERT INTO stock_level (product_id, location_id, level_milli, updated_seq)"
                   " VALUES ($1, $2, $3, $4) ON CONFLICT (product_id, location_id)"
                   " DO UPDATE SET level_milli = EXCLUDED.level_milli, updated_seq = EXCLUDED.updated_seq",
                   product, location, level, seq_);
    tx.commit();
  }

  // A movement row exactly as given, stock_level untouched.
  void insert_movement(pqxx::work& tx, std::int64_t product, std::int64_t location, std::int64_t quantity_milli,
                       std::int64_t level_after, const std::string& reason = "adjustment",
                       const std::string& reference = "X", int line_no = 0) {
    // A fixed time, one minute per seq, so the TIME column is predictable.
    tx.exec_params(
        "INSERT INTO movement (seq, event_id, product_id, location_id, quantity_milli, reason, reference,"
        " line_no, level_after, recorded_at)"
        " VALUES ($1::bigint, gen_random_uuid(), $2, $3, $4, $5, $6, $7, $8,"
        "         timestamptz '2024-05-01 08:00:00+00' + $1::bigint * interval '1 minute')",
        seq_, product, location, quantity_milli, reason, reference, line_no, level_after);
  }

  test::TestDatabase tdb_;
  std::unique_ptr<Database> db_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> levels_;
  std::int64_t seq_ = 100;
};

// Lines of a report, for tests that look at one row.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// ---------------------------------------------------------------------------
// levels

TEST_F(InventoryReportsTest, LevelsPrintsEveryLevelAlignedWithDecimalsAndMarkers) {
  auto shop = location("shop");
  auto back = location("back");
  auto tea = product("TEA-1");
  auto coffee = product("COF-2");
  auto mystery = unknown_product("MYST-9", {}, 5, "sale");
  auto scanned = unknown_product("", {"4006", "4001"}, 6, "receipt");
  auto nameless = unknown_product("", {}, 7, "rule");
  move(tea, shop, 2000);
  move(tea, shop, -500, "sale", "S-1", 1);
  move(tea, back, 1234567);
  move(coffee, shop, -250, "sale", "S-2", 1);
  move(mystery, shop, 5);
  move(scanned, back, 1000);
  move(nameless, shop, -1, "sale", "S-3", 2);
  reorder_point(tea, shop, 2000);  // 1.500 <= 2.000: below
  reorder_point(tea, back, 1000);  // 1234.567 > 1.000
  reorder_point(coffee, shop, 0);  // -0.250 <= 0

  auto r = run({"levels"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  // Sorted by product name in byte order, then location.
  std::string nameless_label = "#" + std::to_string(nameless);
  ASSERT_EQ(nameless_label, "#5");
  EXPECT_EQ(r.out,
            "SKU           LOCATION     LEVEL  REORDER  NOTE\n"
            "#5            shop        -0.001        -  unknown\n"
            "COF-2         shop        -0.250    0.000  below\n"
            "MYST-9        shop         0.005        -  unknown\n"
            "TEA-1         back      1234.567    1.000\n"
            "TEA-1         shop         1.500    2.000  below\n"
            "barcode:4001  back         1.000        -  unknown\n");
}

TEST_F(InventoryReportsTest, LevelsFormatsQuantitiesExactly) {
  auto shop = location("shop");
  struct Case {
    const char* sku;
    std::int64_t milli;
    const char* text;
  };
  const Case cases[] = {
      {"A-0", 0, "0.000"},
      {"A-1", 1, "0.001"},
      {"A-2", -1, "-0.001"},
      {"A-3", 999, "0.999"},
      {"A-4", -1000, "-1.000"},
      {"A-5", 1500, "1.500"},
      {"A-6", -250, "-0.250"},
      {"A-7", 1'000'000'000'000'000, "1000000000000.000"},
      {"A-8", -1'000'000'000'000'001, "-1000000000000.001"},
  };
  for (const auto& c : cases) move(product(c.sku), shop, c.milli);
  auto r = run({"levels"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), std::size(cases) + 1);
  for (std::size_t i = 0; i < std::size(cases); ++i) {
    std::istringstream row(rows[i + 1]);
    std::string sku, loc, level, point;
    row >> sku >> loc >> level >> point;
    EXPECT_EQ(sku, cases[i].sku);
    EXPECT_EQ(level, cases[i].text) << cases[i].milli;
    EXPECT_EQ(point, "-");
  }
}

TEST_F(InventoryReportsTest, LevelsFilters) {
  auto shop = location("shop");
  auto back = location("back");
  auto tea = product("TEA-1");
  auto coffee = product("COF-2");
  auto scanned = unknown_product("", {"4006"}, 6, "receipt");
  move(tea, shop, 1000);
  move(tea, back, 5000);
  move(coffee, shop, 3000);
  move(scanned, shop, 2000);
  reorder_point(tea, shop, 1000);     // at the point: below
  reorder_point(tea, back, 1000);     // above
  reorder_point(coffee, shop, 2999);  // above by one milli

  auto by_sku = run({"levels", "--sku", "TEA-1"});
  EXPECT_EQ(by_sku.code, 0) << by_sku.err;
  ASSERT_EQ(lines(by_sku.out).size(), 3u) << by_sku.out;
  EXPECT_PRED_FORMAT2(Lacks, by_sku.out, "COF-2");

  auto by_location = run({"levels", "--location=back"});
  EXPECT_EQ(by_location.code, 0) << by_location.err;
  ASSERT_EQ(lines(by_location.out).size(), 2u) << by_location.out;
  EXPECT_PRED_FORMAT2(Contains, lines(by_location.out)[1], "TEA-1");
  EXPECT_PRED_FORMAT2(Contains, lines(by_location.out)[1], "5.000");

  auto below = run({"levels", "--below"});
  EXPECT_EQ(below.code, 0) << below.err;
  ASSERT_EQ(lines(below.out).size(), 2u) << below.out;
  EXPECT_PRED_FORMAT2(Contains, lines(below.out)[1], "TEA-1");
  EXPECT_PRED_FORMAT2(Contains, lines(below.out)[1], "shop");
  EXPECT_PRED_FORMAT2(Contains, lines(below.out)[1], "below");

  auto both = run({"levels", "--sku", "TEA-1", "--location", "shop", "--below"});
  EXPECT_EQ(both.code, 0) << both.err;
  EXPECT_EQ(lines(both.out).size(), 2u) << both.out;

  auto by_barcode = run({"levels", "--barcode", "4006"});
  EXPECT_EQ(by_barcode.code, 0) << by_barcode.err;
  ASSERT_EQ(lines(by_barcode.out).size(), 2u) << by_barcode.out;
  EXPECT_PRED_FORMAT2(Contains, lines(by_barcode.out)[1], "barcode:4006");

  // Nothing below at back: just the header.
  auto none = run({"levels", "--location", "back", "--below"});
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(lines(none.out).size(), 1u) << none.out;
}

TEST_F(InventoryReportsTest, LevelsFilterNamingNothingFails) {
  location("shop");
  product("TEA-1");
  auto sku = run({"levels", "--sku", "NOPE"});
  EXPECT_EQ(sku.code, 1);
  EXPECT_EQ(sku.out, "");
  EXPECT_PRED_FORMAT2(Contains, sku.err, "no product with sku 'NOPE'");

  auto loc = run({"levels", "--location", "attic"});
  EXPECT_EQ(loc.code, 1);
  EXPECT_PRED_FORMAT2(Contains, loc.err, "no location 'attic'");
}

TEST_F(InventoryReportsTest, LevelsOfAnEmptyLedgerIsAHeader) {
  auto r = run({"levels"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "SKU  LOCATION  LEVEL  REORDER  NOTE\n");
}

// ---------------------------------------------------------------------------
// movements

TEST_F(InventoryReportsTest, MovementsListsOneProductInIdOrder) {
  auto shop = location("shop");
  auto back = location("back");
  auto tea = product("TEA-1");
  auto coffee = product("COF-2");
  move(tea, shop, 10000, "receipt", "REC-7");         // seq 101
  move(coffee, shop, 4000, "receipt", "REC-7", 2);    // seq 102, another product
  move(tea, shop, -1500, "sale", "S-1", 3);           // seq 103
  move(tea, shop, -2500, "transfer_out", "T-1");      // seq 104
  move(tea, back, 2500, "transfer_in", "T-1");        // seq 105
  move(tea, shop, 250, "sale_return", "S-2", 1);      // seq 106

  auto r = run({"movements", "--sku", "TEA-1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID  SEQ  TIME                  LOCATION  QUANTITY  REASON        REFERENCE  LINE  LEVEL_AFTER\n"
            " 1  101  2024-05-01T09:41:00Z  shop        10.000  receipt       REC-7         -       10.000\n"
            " 3  103  2024-05-01T09:43:00Z  shop        -1.500  sale          S-1           3        8.500\n"
            " 4  104  2024-05-01T09:44:00Z  shop        -2.500  transfer_out  T-1           -        6.000\n"
            " 5  105  2024-05-01T09:45:00Z  back         2.500  transfer_in   T-1           -        2.500\n"
            " 6  106  2024-05-01T09:46:00Z  shop         0.250  sale_return   S-2           1        6.250\n");

  auto last = run({"movements", "--sku", "TEA-1", "--limit", "2"});
  ASSERT_EQ(last.code, 0) << last.err;
  auto rows = lines(last.out);
  ASSERT_EQ(rows.size(), 3u) << last.out;
  EXPECT_EQ(rows[1].substr(0, 7), " 5  105");
  EXPECT_EQ(rows[2].substr(0, 7), " 6  106");

  auto at_shop = run({"movements", "--sku=TEA-1", "--location", "shop", "--limit=3"});
  ASSERT_EQ(at_shop.code, 0) << at_shop.err;
  rows = lines(at_shop.out);
  ASSERT_EQ(rows.size(), 4u) << at_shop.out;
  EXPECT_PRED_FORMAT2(Contains, rows[1], "sale ");
  EXPECT_PRED_FORMAT2(Contains, rows[2], "transfer_out");
  EXPECT_PRED_FORMAT2(Contains, rows[3], "sale_return");

  auto more_than_there = run({"movements", "--sku", "COF-2", "--limit", "10"});
  ASSERT_EQ(more_than_there.code, 0) << more_than_there.err;
  EXPECT_EQ(lines(more_than_there.out).size(), 2u) << more_than_there.out;
}

TEST_F(InventoryReportsTest, MovementsOfABarcodeOnlyProduct) {
  auto shop = location("shop");
  auto scanned = unknown_product("", {"4006", "4001"}, 6, "sale");
  move(scanned, shop, -1000, "sale", "S-9", 1);
  move(scanned, shop, 3000, "receipt", "REC-1", 1);

  auto r = run({"movements", "--barcode", "4006"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto rows = lines(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;
  EXPECT_PRED_FORMAT2(Contains, rows[1], "-1.000");
  EXPECT_PRED_FORMAT2(Contains, rows[2], "2.000");

  auto missing = run({"movements", "--barcode", "999"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_PRED_FORMAT2(Contains, missing.err, "no product with barcode '999'");
}

// ---------------------------------------------------------------------------
// unknown

TEST_F(InventoryReportsTest, UnknownListsProductsTheCatalogHasNotDescribed) {
  auto shop = location("shop");
  auto back = location("back");
  auto tea = product("TEA-1");
  auto mystery = unknown_product("MYST-9", {}, 42, "sale");
  auto scanned = unknown_product("", {"4006", "4001"}, 43, "receipt");
  unknown_product("RULE-1", {}, 44, "rule");  // a rule named it; no stock anywhere
  // Merged into TEA-1: no longer unknown, whatever its catalog_seq.
  auto merged = unknown_product("", {}, 45, "sale");
  sql("UPDATE product SET merged_into = " + std::to_string(tea) + " WHERE id = " + std::to_string(merged));
  move(tea, shop, 1000);
  move(mystery, shop, -2000, "sale", "S-1", 1);
  move(scanned, shop, 1500);
  move(scanned, back, -250, "sale", "S-2", 1);

  auto r = run({"unknown"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID  SKU     BARCODES   ORIGIN   SINCE_SEQ   TOTAL  STOCK\n"
            " 2  MYST-9  -          sale            42  -2.000  shop=-2.000\n"
            " 3  -       4001,4006  receipt         43   1.250  back=-0.250 shop=1.500\n"
            " 4  RULE-1  -          rule            44       -  -\n"
            "3 unknown products\n");
}

TEST_F(InventoryReportsTest, UnknownWithNoneSaysSo) {
  product("TEA-1");
  auto r = run({"unknown"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).back(), "0 unknown products");
}

// ---------------------------------------------------------------------------
// check

class InventoryCheckTest : public InventoryReportsTest {
 protected:
  // A consistent ledger: 3 levels, 6 movements.
  void SetUp() override {
    InventoryReportsTest::SetUp();
    shop_ = location("shop");
    back_ = location("back");
    tea_ = product("TEA-1");
    coffee_ = product("COF-2");
    move(tea_, shop_, 10000);
    move(tea_, shop_, -1500, "sale", "S-1", 1);
    move(tea_, back_, 2500, "transfer_in", "T-1");
    move(tea_, shop_, -2500, "transfer_out", "T-1");
    move(coffee_, shop_, -250, "sale", "S-2", 1);
    move(coffee_, shop_, 250, "void", "V-1", 1);
  }
  std::int64_t shop_ = 0, back_ = 0, tea_ = 0, coffee_ = 0;
};

TEST_F(InventoryCheckTest, PassesOnAConsistentLedger) {
  auto r = run({"check"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "check: OK, 3 levels, 6 movements\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(InventoryReportsTest, CheckPassesOnAnEmptyLedger) {
  auto r = run({"check"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "check: OK, 0 levels, 0 movements\n");
}

TEST_F(InventoryCheckTest, FailsWhenALevelDiffersFromItsMovements) {
  sql("UPDATE stock_level SET level_milli = level_milli + 1 WHERE product_id = " + std::to_string(tea_) +
      " AND location_id = " + std::to_string(shop_));
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_PRED_FORMAT2(Contains, r.out, "level differs from movements: TEA-1 at shop: stock_level 6.001 "
                               "but its 3 movements sum to 6.000\n");
  EXPECT_PRED_FORMAT2(Contains, r.out, "check: FAILED, 1 problem (1 level differing from movements, "
                               "0 missing stock_levels, 0 broken level_after), 3 levels, 6 movements\n");
}

TEST_F(InventoryCheckTest, FailsForALevelWithoutMovements) {
  auto attic = location("attic");
  sql("INSERT INTO stock_level (product_id, location_id, level_milli, updated_seq) VALUES (" +
      std::to_string(coffee_) + ", " + std::to_string(attic) + ", 7000, 1)");
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_PRED_FORMAT2(Contains, r.out, "level differs from movements: COF-2 at attic: stock_level 7.000 "
                               "but no movements\n");
}

TEST_F(InventoryCheckTest, FailsWhenALevelRowIsMissing) {
  sql("DELETE FROM stock_level WHERE product_id = " + std::to_string(tea_) +
      " AND location_id = " + std::to_string(back_));
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_PRED_FORMAT2(Contains, r.out, "missing stock_level: TEA-1 at back: 1 movement summing to 2.500, "
                               "no stock_level row\n");
  EXPECT_PRED_FORMAT2(Contains, r.out, "check: FAILED, 1 problem (0 levels differing from movements, "
                               "1 missing stock_level, 0 broken level_after), 2 levels, 6 movements\n");
}

TEST_F(InventoryCheckTest, FailsWhenTheLevelAfterChainBreaks) {
  // Movement 7 says the level went to 9.000 while the running sum is 7.000;
  // stock_level agrees with the sum, so only the chain is wrong.
  {
    pqxx::work tx(db_->connection());
    ++seq_;
    insert_movement(tx, tea_, shop_, 1000, 9000);
    tx.exec_params("UPDATE stock_level SET level_milli = 7000 WHERE product_id = $1 AND location_id = $2", tea_,
                   shop_);
    tx.commit();
  }
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_PRED_FORMAT2(Contains, r.out, "level_after broken: movement 7 (TEA-1 at shop): level_after 9.000, "
                               "running sum 7.000\n");
  EXPECT_PRED_FORMAT2(Contains, r.out, "check: FAILED, 1 problem (0 levels differing from movements, "
                               "0 missing stock_levels, 1 broken level_after), 3 levels, 7 movements\n");
}

TEST_F(InventoryCheckTest, NamesEveryKindOfProblemAtOnce) {
  sql("UPDATE stock_level SET level_milli = 0 WHERE product_id = " + std::to_string(coffee_));
  sql("DELETE FROM stock_level WHERE product_id = " + std::to_string(tea_) +
      " AND location_id = " + std::to_string(back_));
  {
    // A movement that skips the chain: -500 recorded as leaving 0.
    pqxx::work tx(db_->connection());
    ++seq_;
    insert_movement(tx, tea_, shop_, -500, 0);
    tx.commit();
  }
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  EXPECT_PRED_FORMAT2(Contains, r.out, "level differs from movements: TEA-1 at shop: stock_level 6.000 "
                               "but its 4 movements sum to 5.500\n");
  EXPECT_PRED_FORMAT2(Contains, r.out, "missing stock_level: TEA-1 at back");
  EXPECT_PRED_FORMAT2(Contains, r.out, "level_after broken: movement 7 (TEA-1 at shop): level_after 0.000, "
                               "running sum 5.500\n");
  // COF-2 at 0 equals its movements (-0.250 + 0.250): not a problem.
  EXPECT_PRED_FORMAT2(Lacks, r.out, "COF-2");
  EXPECT_PRED_FORMAT2(Contains, r.out, "check: FAILED, 3 problems");
}

TEST_F(InventoryCheckTest, ShowsAtMostFiftyProblemsOfAKindAndCountsTheRest) {
  // 60 movements at a new location, each with a wrong level_after.
  auto attic = location("attic");
  {
    pqxx::work tx(db_->connection());
    for (int i = 0; i < 60; ++i) {
      ++seq_;
      insert_movement(tx, tea_, attic, 1000, -1);
    }
    tx.exec_params("INSERT INTO stock_level (product_id, location_id, level_milli, updated_seq)"
                   " VALUES ($1, $2, 60000, 1)",
                   tea_, attic);
    tx.commit();
  }
  auto r = run({"check"});
  EXPECT_EQ(r.code, 1);
  std::size_t shown = 0;
  for (const auto& line : lines(r.out))
    if (line.starts_with("level_after broken: movement ")) ++shown;
  EXPECT_EQ(shown, 50u);
  EXPECT_PRED_FORMAT2(Contains, r.out, "level_after broken: ... and 10 more\n");
  EXPECT_PRED_FORMAT2(Contains, r.out, "check: FAILED, 60 problems (0 levels differing from movements, "
                               "0 missing stock_levels, 60 broken level_after), 4 levels, 66 movements\n");
}

// ---------------------------------------------------------------------------
// usage

TEST(InventoryReportCommands, AreTheFourOpsCommands) {
  for (const char* name : {"levels", "movements", "unknown", "check"}) EXPECT_TRUE(is_report_command(name)) << name;
  for (const char* name : {"", "level", "LEVELS", "--levels", "run", "check-config"})
    EXPECT_FALSE(is_report_command(name)) << name;
}

// Usage errors are caught before any query: this Database points nowhere
// and must never try to connect.
class InventoryReportUsageTest : public ::testing::Test {
 protected:
  Outcome run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    Outcome o;
    o.code = run_report(db_, args, out, err);
    o.out = out.str();
    o.err = err.str();
    EXPECT_FALSE(db_.connected());
    return o;
  }
  void expect_usage_error(const std::vector<std::string>& args, const std::string& message) {
    auto r = run(args);
    std::string joined;
    for (const auto& a : args) joined += " " + a;
    EXPECT_EQ(r.code, 2) << joined;
    EXPECT_EQ(r.out, "") << joined;
    EXPECT_PRED_FORMAT2(Contains, r.err, message) << joined;
    EXPECT_PRED_FORMAT2(Contains, r.err, "usage: eck-inventory") << joined;
  }
  Database db_{DatabaseOptions{"postgresql://nobody@/nowhere?host=/nonexistent", "inventory", "t"}};
};

TEST_F(InventoryReportUsageTest, UnknownCommand) {
  expect_usage_error({"frobnicate"}, "eck-inventory: unknown command 'frobnicate'");
  expect_usage_error({}, "eck-inventory: no command given");
  // The usage of an unknown command lists every command.
  auto r = run({"frobnicate"});
  for (const char* name : {"levels", "movements", "unknown", "check"}) EXPECT_PRED_FORMAT2(Contains, r.err, name);
}

TEST_F(InventoryReportUsageTest, UnknownOptionOrArgument) {
  expect_usage_error({"levels", "--frob"}, "eck-inventory levels: unknown argument '--frob'");
  expect_usage_error({"levels", "--limit", "3"}, "unknown argument '--limit'");
  expect_usage_error({"levels", "TEA-1"}, "unknown argument 'TEA-1'");
  expect_usage_error({"movements", "--sku", "TEA-1", "--below"}, "unknown argument '--below'");
  expect_usage_error({"unknown", "--all"}, "eck-inventory unknown: unknown argument '--all'");
  expect_usage_error({"check", "now"}, "eck-inventory check: unknown argument 'now'");
}

TEST_F(InventoryReportUsageTest, MissingOrBadValues) {
  expect_usage_error({"movements"}, "eck-inventory movements: --sku or --barcode is required");
  expect_usage_error({"movements", "--limit", "5"}, "--sku or --barcode is required");
  expect_usage_error({"movements", "--sku"}, "--sku needs a value");
  expect_usage_error({"movements", "--sku="}, "--sku needs a value");
  expect_usage_error({"movements", "--sku", "--limit", "5"}, "--sku needs a value");
  expect_usage_error({"levels", "--sku", "--below"}, "--sku needs a value");
  expect_usage_error({"levels", "--location"}, "--location needs a value");
  expect_usage_error({"movements", "--barcode"}, "--barcode needs a value");
  expect_usage_error({"movements", "--sku", "A", "--barcode", "1"}, "give --sku or --barcode, not both");
  expect_usage_error({"movements", "--sku", "A", "--limit", "abc"}, "--limit: expected an integer");
  expect_usage_error({"movements", "--sku", "A", "--limit", "-1"}, "got '-1'");
  expect_usage_error({"movements", "--sku", "A", "--limit", "0"}, "got '0'");
  expect_usage_error({"movements", "--sku", "A", "--limit", "1.5"}, "got '1.5'");
  expect_usage_error({"movements", "--sku", "A", "--limit"}, "--limit needs a value");
}

TEST_F(InventoryReportUsageTest, HelpPrintsTheCommandsUsage) {
  auto r = run({"movements", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_PRED_FORMAT2(Contains, r.out, "movements (--sku S | --barcode B) [--location L] [--limit N]");
  EXPECT_PRED_FORMAT2(Lacks, r.out, "levels");
  EXPECT_EQ(r.err, "");
}

}  // namespace
}  // namespace eck::inventory
