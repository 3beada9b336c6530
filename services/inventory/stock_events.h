// How eck-inventory applies each event it consumes: the rules of the stock
// ledger. This comment is the contract that the tests pin down and
// docs/OPERATIONS.md repeats for ops.
//
// Every event is applied whole or not at all. An event that breaks a rule
// below is rejected (eck::Rejected): it changes nothing, lands in
// inventory.dead_letter with the reason, and the daemon goes on. Nothing is
// dropped silently.
//
// Common rules
// - Quantities are thousandths of a unit. |quantity| of a line or delta at
//   most kMaxQuantityMilli (10^12, a billion units); a level may not leave
//   +-kMaxLevelMilli (10^15). Anything beyond: rejected as absurd.
// - Locations are created the first time an event names one (there is no
//   location catalog event). A location code is 1..100 bytes without control
//   characters; an empty or invalid one is rejected.
// - A line names its product by sku or, failing that, by barcode (the sku
//   wins when both are set). A product nobody described yet is created as
//   *unknown* (keyed by the sku, or by the barcode alone) and listed by
//   `eck-inventory unknown`; the stock still moves. A line with neither sku
//   nor barcode is rejected.
// - Documents are applied once: a second SaleCompleted with the same sale_id,
//   SaleVoided with the same void_id, StockReceived with the same receipt_id,
//   StockAdjusted with the same adjustment_id or StockTransferred with the
//   same transfer_id (under a new event_id: the broker already drops the same
//   event_id) is rejected as a duplicate. An empty receipt, adjustment or
//   transfer id stands for the event_id; a sale and a void need their ids.
// - After each event, for every (product, location) whose level it changed:
//   one StockLevelChanged (level after the event, net delta of the event);
//   and for every level with a reorder point, BelowThreshold when the level is
//   at or below the point and the point is armed (it is then disarmed); a
//   level above its point re-arms it. A rule that is set or changed is
//   evaluated at once the same way (a new rule starts armed).
//
// Per event
// - ProductUpserted: sku required. Creates or updates the product (name,
//   unit, discontinued) and replaces its barcodes. A barcode held by another
//   product moves to this one; if that one is an unknown barcode-only product,
//   it is adopted (it becomes this sku) when the sku is new, or merged: its
//   stock moves to this product with merge_out/merge_in movements.
// - ReorderRuleSet: sku and location required; sets the reorder point
//   (reorder_point_milli) of that product there (creating the product as
//   unknown when the catalog has not described it yet).
// - SaleCompleted: sale_id and location required. Training and abandoned
//   sales move no stock (recorded as applied, nothing else). Each line with
//   quantity q > 0 is a movement of -q (reason sale); q < 0 is goods taken
//   back within the sale, +|q| (reason sale_return); q = 0 moves nothing.
//   Stock may go negative: a sale always happened.
// - SaleVoided: void_id and a known original_sale_id required (a void of an
//   unknown sale is rejected). whole_sale voids what remains of every line
//   that moved stock; otherwise each listed line must be one that moved stock
//   (unless the sale moved none at all: then the void is applied and moves
//   nothing), quantity_milli 0 meaning all that remains of it and a positive
//   quantity at most what remains. Negative quantities, or nothing left to
//   void, are rejected. With restock the goods go back (reason void, the
//   sign opposite to the original movement) at the void's location, or the
//   sale's when the void names none; without restock the void is recorded
//   and moves nothing.
// - StockReceived: location required; every line quantity > 0; +q (receipt).
// - StockAdjusted: location and a product required; either delta_milli != 0
//   (reason adjustment) or counted_milli >= 0 (reason count, delta = counted -
//   level; a count that matches the level moves nothing). Neither set: rejected.
// - StockTransferred: from and to required and different; every line
//   quantity > 0; -q at from (transfer_out) and +q at to (transfer_in).
// - Any other event of the subscribed topics is ignored (not ours).
#pragma once

#include <cstdint>

#include <pqxx/pqxx>

#include "eck/follower.h"  // Event
#include "ledger.h"

namespace eck::inventory {

// Topic prefixes the daemon subscribes to.
inline const char* const kTopics[] = {"catalog.", "pos.Sale", "warehouse."};

// Applies one event to the ledger's transaction. Throws eck::Rejected for a
// rule above; SQL errors propagate (the consumer redoes the batch event by
// event and dead-letters the one that fails).
void apply_stock_event(const Event& ev, pqxx::work& tx, Ledger& ledger);

}  // namespace eck::inventory
