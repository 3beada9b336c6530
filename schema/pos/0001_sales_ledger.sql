-- The books of eck-pos (applied with search_path = pos).
--
-- What happened at the tills, as it happened: a sale is never edited (a void
-- is a new row that references it), a sale that fails a check is recorded
-- with its problems, never fixed or dropped. Money is integer minor units of
-- `currency`; quantities are thousandths of a unit.

-- Tills, seen automatically from the events that name them.
CREATE TABLE register (
  register_id  text PRIMARY KEY,         -- the till's serial (TSE client id)
  location     text NOT NULL,
  first_seq    bigint NOT NULL,
  last_seq     bigint NOT NULL
);

-- Cash drawer sessions: opened with a float, closed with a counted amount
-- (which produces the Z-report).
CREATE TABLE drawer_session (
  session_id           text PRIMARY KEY,
  register_id          text NOT NULL REFERENCES register,
  cashier              text NOT NULL,
  currency             text NOT NULL,
  opening_float_minor  bigint NOT NULL,
  opened_at            timestamptz NOT NULL,
  opened_seq           bigint NOT NULL,
  closed_at            timestamptz,
  closed_seq           bigint,
  closed_by            text,
  counted_minor        bigint,
  z_number             bigint
);
-- One open session per register at a time.
CREATE UNIQUE INDEX drawer_session_open ON drawer_session (register_id) WHERE closed_seq IS NULL;

CREATE TABLE sale (
  sale_id       text PRIMARY KEY,
  seq           bigint NOT NULL,
  event_id      uuid NOT NULL,
  register_id   text NOT NULL REFERENCES register,
  location      text NOT NULL,
  cashier       text NOT NULL,
  session_id    text REFERENCES drawer_session,  -- NULL: outside an open session
  currency      text NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz,
  training      boolean NOT NULL,
  abandoned     boolean NOT NULL,
  gross_minor   bigint NOT NULL,   -- as the till declared it
  net_minor     bigint NOT NULL,
  vat_minor     bigint NOT NULL,
  change_minor  bigint NOT NULL,
  problems      text[] NOT NULL DEFAULT '{}'  -- failed checks; empty when consistent
);
CREATE INDEX sale_session ON sale (session_id, seq);
CREATE INDEX sale_finished ON sale (finished_at);
CREATE INDEX sale_problems ON sale (seq) WHERE problems <> '{}';

CREATE TABLE sale_line (
  sale_id            text NOT NULL REFERENCES sale,
  idx                integer NOT NULL,    -- position in the event (line_no may repeat: flagged)
  line_no            integer NOT NULL,
  sku                text NOT NULL,
  barcode            text NOT NULL,
  name               text NOT NULL,
  quantity_milli     bigint NOT NULL,
  unit_price_minor   bigint NOT NULL,
  vat_category       smallint NOT NULL,   -- eck.v1.VatCategory
  vat_rate_bp        integer NOT NULL,
  discount_minor     bigint NOT NULL,
  line_total_minor   bigint NOT NULL,     -- gross, as declared
  PRIMARY KEY (sale_id, idx)
);

CREATE TABLE sale_payment (
  sale_id       text NOT NULL REFERENCES sale,
  idx           integer NOT NULL,
  method        smallint NOT NULL,        -- eck.v1.PaymentMethod
  amount_minor  bigint NOT NULL,
  currency      text NOT NULL,
  PRIMARY KEY (sale_id, idx)
);

-- VAT per rate as computed by eck-pos from the lines (what receipts and
-- Z-reports show); the till's own figures are compared on recording.
CREATE TABLE sale_vat (
  sale_id       text NOT NULL REFERENCES sale,
  vat_category  smallint NOT NULL,
  vat_rate_bp   integer NOT NULL,
  net_minor     bigint NOT NULL,
  vat_minor     bigint NOT NULL,
  gross_minor   bigint NOT NULL,
  PRIMARY KEY (sale_id, vat_category, vat_rate_bp)
);

-- Storno: a new record referencing the original sale.
CREATE TABLE sale_void (
  void_id           text PRIMARY KEY,
  seq               bigint NOT NULL,
  event_id          uuid NOT NULL,
  original_sale_id  text NOT NULL,        -- may name a sale eck never saw (flagged)
  register_id       text NOT NULL REFERENCES register,
  location          text NOT NULL,
  cashier           text NOT NULL,
  session_id        text REFERENCES drawer_session,
  whole_sale        boolean NOT NULL,
  restock           boolean NOT NULL,
  reason            text NOT NULL,
  voided_at         timestamptz,
  currency          text NOT NULL,
  gross_minor       bigint NOT NULL,      -- value of the voided lines (positive)
  problems          text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX sale_void_original ON sale_void (original_sale_id);
CREATE INDEX sale_void_session ON sale_void (session_id, seq);

CREATE TABLE sale_void_line (
  void_id         text NOT NULL REFERENCES sale_void,
  line_no         integer NOT NULL,
  quantity_milli  bigint NOT NULL,
  vat_category    smallint NOT NULL,
  vat_rate_bp     integer NOT NULL,
  gross_minor     bigint NOT NULL,
  PRIMARY KEY (void_id, line_no)
);

CREATE TABLE sale_void_refund (
  void_id       text NOT NULL REFERENCES sale_void,
  idx           integer NOT NULL,
  method        smallint NOT NULL,
  amount_minor  bigint NOT NULL,
  currency      text NOT NULL,
  PRIMARY KEY (void_id, idx)
);

CREATE TABLE cash_movement (
  movement_id   text PRIMARY KEY,
  seq           bigint NOT NULL,
  session_id    text REFERENCES drawer_session,
  register_id   text NOT NULL REFERENCES register,
  direction     text NOT NULL CHECK (direction IN ('in', 'out')),
  amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
  currency      text NOT NULL,
  reason        text NOT NULL,
  at            timestamptz,
  problems      text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX cash_movement_session ON cash_movement (session_id, seq);

-- TSE data from eck-fiscal (SaleSigned), printed on the receipt. void_id is
-- '' for the sale itself.
CREATE TABLE receipt_signature (
  sale_id             text NOT NULL,
  void_id             text NOT NULL,
  seq                 bigint NOT NULL,
  transaction_number  bigint NOT NULL,
  signature_counter   bigint NOT NULL,
  signature           text NOT NULL,
  tse_serial          text NOT NULL,
  algorithm           text NOT NULL,
  qr_code             text NOT NULL,
  started_at          timestamptz,
  finished_at         timestamptz,
  certified           boolean NOT NULL,
  error               text NOT NULL,      -- signing failed (TSE outage): the receipt says so
  PRIMARY KEY (sale_id, void_id)
);

-- Z-reports: number gap-free per register, written when a session closes.
CREATE TABLE z_report (
  register_id          text NOT NULL REFERENCES register,
  z_number             bigint NOT NULL CHECK (z_number > 0),
  session_id           text NOT NULL UNIQUE REFERENCES drawer_session,
  seq                  bigint NOT NULL,
  currency             text NOT NULL,
  opened_at            timestamptz NOT NULL,
  closed_at            timestamptz NOT NULL,
  cashier              text NOT NULL,
  sales_count          bigint NOT NULL,
  sales_gross_minor    bigint NOT NULL,
  voids_count          bigint NOT NULL,
  voids_gross_minor    bigint NOT NULL,   -- positive: what the voids took back
  cash_in_minor        bigint NOT NULL,
  cash_out_minor       bigint NOT NULL,
  opening_float_minor  bigint NOT NULL,
  cash_sales_minor     bigint NOT NULL,   -- cash tendered in sales
  change_minor         bigint NOT NULL,
  cash_refunds_minor   bigint NOT NULL,   -- cash paid back by voids
  expected_cash_minor  bigint NOT NULL,
  counted_cash_minor   bigint NOT NULL,
  difference_minor     bigint NOT NULL,   -- counted - expected
  first_sale_id        text,
  last_sale_id         text,
  training_count       bigint NOT NULL,
  training_gross_minor bigint NOT NULL,
  flagged_count        bigint NOT NULL,   -- sales and voids with problems in the session
  PRIMARY KEY (register_id, z_number)
);

-- The Z-report's totals: per VAT rate, per payment method, per business case.
CREATE TABLE z_report_total (
  register_id   text NOT NULL,
  z_number      bigint NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('vat', 'payment', 'business_case')),
  key           text NOT NULL,            -- "STANDARD 19.00 %", "CASH", "sales" ... (zreport.h)
  count         bigint NOT NULL,
  net_minor     bigint NOT NULL,
  vat_minor     bigint NOT NULL,
  gross_minor   bigint NOT NULL,          -- the amount (payments, cash in/out: gross only)
  PRIMARY KEY (register_id, z_number, kind, key),
  FOREIGN KEY (register_id, z_number) REFERENCES z_report
);

-- Sales, voids and cash movements are the books: never edited, never removed.
CREATE FUNCTION books_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'pos.% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER sale_append_only BEFORE UPDATE OR DELETE ON sale
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_line_append_only BEFORE UPDATE OR DELETE ON sale_line
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_payment_append_only BEFORE UPDATE OR DELETE ON sale_payment
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_void_append_only BEFORE UPDATE OR DELETE ON sale_void
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER cash_movement_append_only BEFORE UPDATE OR DELETE ON cash_movement
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER z_report_append_only BEFORE UPDATE OR DELETE ON z_report
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_vat_append_only BEFORE UPDATE OR DELETE ON sale_vat
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_void_line_append_only BEFORE UPDATE OR DELETE ON sale_void_line
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER sale_void_refund_append_only BEFORE UPDATE OR DELETE ON sale_void_refund
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER z_report_total_append_only BEFORE UPDATE OR DELETE ON z_report_total
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
CREATE TRIGGER receipt_signature_append_only BEFORE UPDATE OR DELETE ON receipt_signature
  FOR EACH ROW EXECUTE FUNCTION books_are_append_only();
-- TRUNCATE too, for every table of the books.
CREATE TRIGGER books_no_truncate BEFORE TRUNCATE ON sale
  FOR EACH STATEMENT EXECUTE FUNCTION books_are_append_only();
