-- The stock ledger of eck-inventory (applied with search_path = inventory).
--
-- Stock is a ledger: every movement is a row tied to the event that caused
-- it (journal sequence and event_id); stock_level is derived and always
-- equals the sum of the movements of its product and location
-- (`eck-inventory check` verifies it). Movements are never edited or
-- deleted: a correction is a new movement.

-- Places that hold stock, created the first time an event names one.
CREATE TABLE location (
  id          serial PRIMARY KEY,
  code        text NOT NULL UNIQUE,
  first_seq   bigint NOT NULL,            -- event that named it first
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Products. A product the catalog has not described yet (a sale, receipt or
-- rule named it first) is created as unknown and listed for review; a
-- product known only by a barcode has no sku until the catalog claims the
-- barcode (it is then adopted, or merged into the catalog's product).
CREATE TABLE product (
  id            bigserial PRIMARY KEY,
  sku           text UNIQUE,
  name          text NOT NULL DEFAULT '',
  unit          text NOT NULL DEFAULT '',
  discontinued  boolean NOT NULL DEFAULT false,
  created_seq   bigint NOT NULL,
  catalog_seq   bigint,                   -- last ProductUpserted applied; NULL: unknown
  unknown_since_seq bigint,               -- set while unknown (event that created it)
  unknown_origin text,                    -- what created it: sale, receipt, rule ...
  merged_into   bigint REFERENCES product (id),
  CHECK (sku IS NOT NULL OR unknown_since_seq IS NOT NULL OR merged_into IS NOT NULL)
);
CREATE INDEX product_unknown ON product (id) WHERE catalog_seq IS NULL;

-- Several barcodes per product; a barcode names one product at a time.
CREATE TABLE product_barcode (
  barcode     text PRIMARY KEY,
  product_id  bigint NOT NULL REFERENCES product (id)
);
CREATE INDEX product_barcode_product ON product_barcode (product_id);

CREATE TABLE movement (
  id              bigserial PRIMARY KEY,
  seq             bigint NOT NULL,          -- journal sequence of the cause
  event_id        uuid NOT NULL,            -- the cause
  product_id      bigint NOT NULL REFERENCES product (id),
  location_id     integer NOT NULL REFERENCES location (id),
  quantity_milli  bigint NOT NULL,          -- signed, thousandths of a unit
  reason          text NOT NULL CHECK (reason IN (
                    'sale', 'sale_return', 'void', 'receipt', 'adjustment', 'count',
                    'transfer_out', 'transfer_in', 'merge_out', 'merge_in')),
  reference       text NOT NULL,            -- sale_id, receipt_id, ... of the cause
  line_no         integer NOT NULL,         -- line within the cause, 0 when none
  level_after     bigint NOT NULL,
  recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX movement_product_location ON movement (product_id, location_id, id);
-- What a void looks up: the lines of the original sale.
CREATE INDEX movement_sale ON movement (reference, line_no) WHERE reason IN ('sale', 'sale_return');

CREATE FUNCTION movement_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'inventory.movement is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'correct stock with a StockAdjusted event';
END $$;
CREATE TRIGGER movement_append_only BEFORE UPDATE OR DELETE ON movement
  FOR EACH ROW EXECUTE FUNCTION movement_is_append_only();
CREATE TRIGGER movement_no_truncate BEFORE TRUNCATE ON movement
  FOR EACH STATEMENT EXECUTE FUNCTION movement_is_append_only();

CREATE TABLE stock_level (
  product_id   bigint NOT NULL REFERENCES product (id),
  location_id  integer NOT NULL REFERENCES location (id),
  level_milli  bigint NOT NULL,             -- may be negative: visible, never hidden
  updated_seq  bigint NOT NULL,
  PRIMARY KEY (product_id, location_id)
);

-- Reorder point per product and location (from ReorderRuleSet). `armed`:
-- the next time the level is at or below the point, BelowThreshold is
-- emitted and armed turns false; it turns true again when the level rises
-- above the point.
CREATE TABLE reorder_point (
  product_id   bigint NOT NULL REFERENCES product (id),
  location_id  integer NOT NULL REFERENCES location (id),
  point_milli  bigint NOT NULL,
  armed        boolean NOT NULL,
  set_seq      bigint NOT NULL,
  PRIMARY KEY (product_id, location_id)
);

-- Every document applied (sale, void, receipt, adjustment, transfer), so a
-- document republished under a new event_id is not applied twice.
CREATE TABLE applied_document (
  kind      text NOT NULL,
  doc_id    text NOT NULL,
  seq       bigint NOT NULL,
  event_id  uuid NOT NULL,
  PRIMARY KEY (kind, doc_id)
);

-- What each void took back, per line of the original sale, whether or not
-- the goods went back to stock: a line is never voided twice.
CREATE TABLE void_line (
  void_id         text NOT NULL,
  sale_id         text NOT NULL,
  line_no         integer NOT NULL,
  quantity_milli  bigint NOT NULL,
  restocked       boolean NOT NULL,
  seq             bigint NOT NULL,
  PRIMARY KEY (void_id, line_no)
);
CREATE INDEX void_line_sale ON void_line (sale_id, line_no);
