-- The premium ledger's records as a PostgreSQL user would keep them
-- (DESIGN sections 3, 4 and 8), for the comparison of tests/bench: what
-- our server checks on upload is a constraint here wherever a constraint
-- can say it, and every lookup our server serves from a key has an index.
--
-- Loading (tests/bench/postgres.cc): one transaction per uploaded file,
--   BEGIN;
--   SET LOCAL bench.owner = '<brand or supplier>';
--   \copy purchases (<the file's header>) FROM '<file>' WITH (FORMAT csv, HEADER true)
--   COMMIT;
-- The files carry no brand or supplier column (the uploader is the owner),
-- so the owner columns default to bench.owner: no second pass, and a file
-- loaded without an owner is refused by the id check ('' is no id).
--
-- Money is numeric, never float: exact decimals, rounded only where DESIGN
-- section 4 says so, and half-even (div_half_even below), because round()
-- on numeric rounds half away from zero.

-- All or nothing, and one commit to wait for rather than one per statement.
BEGIN;

-- Ids as our server accepts them (ledger/premium/validation.h).
CREATE DOMAIN ident AS text
  CHECK (VALUE ~ '^[a-z0-9][a-z0-9._-]{0,63}$');
-- Dates outside these years are typing errors, not farm seasons.
CREATE DOMAIN business_date AS date
  CHECK (VALUE BETWEEN DATE '1990-01-01' AND DATE '2199-12-31');
CREATE DOMAIN currency_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
CREATE DOMAIN purchase_unit AS text
  CHECK (VALUE IN ('lb', 'kg', 'cwt', 'each'));
-- The numeric domains refuse extra fraction digits instead of rounding them
-- away (a numeric(p, s) column would silently round "12.345" to 12.35), and
-- their upper bound keeps every value inside our server's 64-bit micros and
-- refuses 'NaN' and 'Infinity', which compare above every number.
-- Payroll and payment amounts: the currency's minor unit (2: the programs
-- here are in USD).
CREATE DOMAIN amount AS numeric
  CHECK (VALUE >= 0 AND VALUE < 1e12 AND scale(VALUE) <= 2);
CREATE DOMAIN quantity AS numeric
  CHECK (VALUE > 0 AND VALUE < 1e12 AND scale(VALUE) <= 3);
CREATE DOMAIN hours AS numeric
  CHECK (VALUE >= 0 AND VALUE < 1e12 AND scale(VALUE) <= 2);
CREATE DOMAIN rate AS numeric
  CHECK (VALUE >= 0 AND VALUE < 1e12 AND scale(VALUE) <= 6);

-- numerator / denominator rounded half-even to `places` decimals, exactly:
-- div() and mod() on numeric are exact, where `/` stops at a scale of its
-- choosing and could turn a value just off a tie into a tie. denominator > 0.
-- Not STRICT, so that the planner can inline it (a NULL argument still
-- gives NULL).
CREATE FUNCTION div_half_even(numerator numeric, denominator numeric,
                              places integer)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN round(
  (div(numerator * 10::numeric ^ places, denominator)
   + CASE
       WHEN 2 * abs(mod(numerator * 10::numeric ^ places, denominator))
              > denominator
         OR (2 * abs(mod(numerator * 10::numeric ^ places, denominator))
               = denominator
             AND mod(div(numerator * 10::numeric ^ places, denominator), 2)
                   <> 0)
       THEN sign(numerator)
       ELSE 0
     END) * 10::numeric ^ (-places),
  places);

-- A program's currency and unit never change (amounts already recorded are
-- in them); the composite keys let versions, payments and payroll lines
-- prove it with foreign keys.
CREATE TABLE programs (
  program_id ident PRIMARY KEY,
  currency currency_code NOT NULL,
  unit purchase_unit NOT NULL,
  UNIQUE (program_id, currency),
  UNIQUE (program_id, currency, unit)
);

-- Rates change over time: each purchase uses the version in force on its
-- date (the latest effective on or before it).
CREATE TABLE program_versions (
  program_id ident NOT NULL,
  effective_date business_date NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  currency currency_code NOT NULL,
  unit purchase_unit NOT NULL,
  worker_rate rate NOT NULL,
  supplier_rate rate NOT NULL DEFAULT 0,
  payment_terms_days integer NOT NULL DEFAULT 14
    CHECK (payment_terms_days BETWEEN 0 AND 3650),
  distribution_deadline_days integer NOT NULL DEFAULT 14
    CHECK (distribution_deadline_days BETWEEN 0 AND 3650),
  allocation text NOT NULL DEFAULT 'hours'
    CHECK (allocation IN ('hours', 'wages', 'none')),
  tolerance amount NOT NULL DEFAULT 1.00,
  PRIMARY KEY (program_id, effective_date),
  FOREIGN KEY (program_id, currency, unit)
    REFERENCES programs (program_id, currency, unit),
  -- The worker portion of a payment divides by the sum.
  CHECK (worker_rate + supplier_rate > 0)
);

-- Exact conversion factors: a quantity in from_unit times numerator /
-- denominator is the quantity in to_unit (1 lb = 0.45359237 kg exactly,
-- 1 cwt = 100 lb). A count ("each") converts only to itself.
CREATE TABLE unit_conversions (
  from_unit purchase_unit NOT NULL,
  to_unit purchase_unit NOT NULL,
  numerator bigint NOT NULL CHECK (numerator > 0),
  denominator bigint NOT NULL CHECK (denominator > 0),
  PRIMARY KEY (from_unit, to_unit)
);
INSERT INTO unit_conversions VALUES
  ('lb', 'lb', 1, 1), ('kg', 'kg', 1, 1), ('cwt', 'cwt', 1, 1),
  ('each', 'each', 1, 1),
  ('lb', 'kg', 45359237, 100000000), ('kg', 'lb', 100000000, 45359237),
  ('cwt', 'lb', 100, 1), ('lb', 'cwt', 1, 100),
  ('cwt', 'kg', 45359237, 1000000), ('kg', 'cwt', 1000000, 45359237);

CREATE TABLE parties (
  party_id ident PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('brand', 'supplier', 'auditor')),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200)
);

CREATE TABLE purchases (
  brand_id ident NOT NULL DEFAULT current_setting('bench.owner')
    REFERENCES parties,
  invoice_id ident NOT NULL,
  supplier_id ident NOT NULL REFERENCES parties,
  program_id ident NOT NULL REFERENCES programs,
  purchase_date business_date NOT NULL,
  quantity quantity NOT NULL,
  unit purchase_unit NOT NULL,
  -- A brand's invoice is recorded once: our server's invoice/<brand>/<id>.
  PRIMARY KEY (brand_id, invoice_id)
);
-- Our server's supplier/<supplier> lookup (brand/<brand> is the key's
-- prefix).
CREATE INDEX purchases_supplier ON purchases (supplier_id);

CREATE TABLE payments (
  brand_id ident NOT NULL DEFAULT current_setting('bench.owner')
    REFERENCES parties,
  payment_id ident NOT NULL,
  supplier_id ident NOT NULL REFERENCES parties,
  program_id ident NOT NULL,
  paid_date business_date NOT NULL,
  amount amount NOT NULL CHECK (amount > 0),
  currency currency_code NOT NULL,
  PRIMARY KEY (brand_id, payment_id),
  -- Paid in the program's currency.
  FOREIGN KEY (program_id, currency) REFERENCES programs (program_id, currency)
);
CREATE INDEX payments_supplier ON payments (supplier_id);

CREATE TABLE payroll_lines (
  -- Lines have no natural key: a worker's second line in a period is a
  -- DUPLICATE_PAYROLL_LINE to report, not a row to refuse.
  line_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  supplier_id ident NOT NULL DEFAULT current_setting('bench.owner')
    REFERENCES parties,
  program_id ident NOT NULL,
  worker_id ident NOT NULL,
  period_start business_date NOT NULL,
  period_end business_date NOT NULL,
  pay_date business_date NOT NULL,
  hours hours NOT NULL,
  gross_wages amount NOT NULL,
  premium_amount amount NOT NULL,
  currency currency_code NOT NULL,
  -- The paystub code, the worker's only credential: made by the database,
  -- 122 random bits, unique (the constraint is the index of the lookup).
  code uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  CHECK (period_end >= period_start),
  CHECK (pay_date >= period_start),
  FOREIGN KEY (program_id, currency) REFERENCES programs (program_id, currency)
);
-- A worker's lookup of all their lines: our server's
-- worker/<supplier>/<worker> (and payroll/<supplier> is its prefix).
CREATE INDEX payroll_lines_worker ON payroll_lines (supplier_id, worker_id);

COMMIT;
