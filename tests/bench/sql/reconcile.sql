-- The balance rules of DESIGN section 7 in SQL: BRAND_UNDERPAID,
-- LATE_BRAND_PAYMENT, BRAND_OVERPAID, UNDISTRIBUTED_PREMIUM and
-- LATE_DISTRIBUTION as of the date in the psql variable as_of, over the
-- tables of schema.sql:
--
--   psql -v ON_ERROR_STOP=1 -v as_of=2026-06-30 --csv -f reconcile.sql
--
-- The definitions are those of ledger/premium/reconcile.h, so that the rows
-- equal what our reconcile reports (tests/bench/postgres_test.cc proves it
-- on generated seasons):
--   - a purchase dated d is owed from d + payment_terms_days, a payment
--     received on d must be on paychecks by d + distribution_deadline_days,
--     both of the version in force on d (the first version for days before
--     the program starts); the tolerance is the one in force on the as-of
--     date;
--   - premium owed on a purchase = quantity converted exactly to the
--     program's unit x (worker_rate + supplier_rate), rounded half-even to
--     the micro-unit once; the worker portion of a payment = amount x
--     worker_rate / (worker_rate + supplier_rate), rounded half-even to the
--     micro-unit, with the rates in force on its date;
--   - a run is a stretch of days on which the watched difference is above
--     the tolerance; it begins on its first such day and is cured on the
--     first day back at or below it;
--   - still above at the as-of date: BRAND_UNDERPAID, BRAND_OVERPAID,
--     UNDISTRIBUTED_PREMIUM with the figures of that date and the day the
--     run began;
--   - otherwise, the run that reached the largest difference (the earliest
--     of equal ones): LATE_BRAND_PAYMENT, LATE_DISTRIBUTION with the
--     figures of the first day it reached it, the day it began and the day
--     it was cured;
--   - expected and actual are exact, the difference is |actual - expected|
--     rounded half-even to the cent.
--
-- Output: the columns of a season's expected.csv (tests/season/season.h),
-- one row per discrepancy, ordered by program, type (DESIGN order), then
-- id. Empty fields are empty strings.
WITH
versions AS (
  -- Each version with the day the next one takes over; the first one also
  -- governs the days before the program starts.
  SELECT v.program_id, v.effective_date, v.worker_rate, v.supplier_rate,
         v.payment_terms_days, v.distribution_deadline_days, v.unit,
         v.tolerance,
         lead(v.effective_date) OVER program AS superseded_on,
         row_number() OVER program = 1 AS is_first
  FROM program_versions AS v
  WINDOW program AS (PARTITION BY v.program_id ORDER BY v.effective_date)
),
tolerances AS (
  SELECT v.program_id, v.tolerance, p.currency
  FROM versions AS v
  JOIN programs AS p USING (program_id)
  WHERE (v.effective_date <= :'as_of'::date OR v.is_first)
    AND (v.superseded_on IS NULL OR :'as_of'::date < v.superseded_on)
),
purchase_premiums AS (
  SELECT p.program_id, p.brand_id, p.supplier_id, p.purchase_date,
         p.purchase_date + v.payment_terms_days AS due_date,
         div_half_even(
           p.quantity * c.numerator * (v.worker_rate + v.supplier_rate),
           c.denominator, 6) AS premium
  FROM purchases AS p
  JOIN versions AS v
    ON v.program_id = p.program_id
   AND (v.effective_date <= p.purchase_date OR v.is_first)
   AND (v.superseded_on IS NULL OR p.purchase_date < v.superseded_on)
  JOIN unit_conversions AS c ON c.from_unit = p.unit AND c.to_unit = v.unit
  WHERE p.purchase_date <= :'as_of'::date
),
payment_portions AS (
  SELECT m.program_id, m.brand_id, m.supplier_id, m.paid_date, m.amount,
         m.paid_date + v.distribution_deadline_days AS due_date,
         div_half_even(m.amount * v.worker_rate,
                       v.worker_rate + v.supplier_rate, 6) AS worker_portion
  FROM payments AS m
  JOIN versions AS v
    ON v.program_id = m.program_id
   AND (v.effective_date <= m.paid_date OR v.is_first)
   AND (v.superseded_on IS NULL OR m.paid_date < v.superseded_on)
  WHERE m.paid_date <= :'as_of'::date
),
-- Every change of the three balances, as (expected, actual) deltas: the
-- watched difference is expected - actual in each.
steps AS (
  -- Shortfall(t) = Owed(t - terms) - Paid(t): premium counts once due.
  SELECT 'shortfall' AS account, program_id, brand_id, supplier_id,
         due_date AS day, premium AS expected, 0 AS actual
  FROM purchase_premiums
  WHERE due_date <= :'as_of'::date
  UNION ALL
  SELECT 'shortfall', program_id, brand_id, supplier_id, paid_date, 0, amount
  FROM payment_portions
  UNION ALL
  -- Paid(t) - Owed(t): here what was paid is the side that may run ahead.
  SELECT 'overpaid', program_id, brand_id, supplier_id, paid_date, amount, 0
  FROM payment_portions
  UNION ALL
  SELECT 'overpaid', program_id, brand_id, supplier_id, purchase_date, 0,
         premium
  FROM purchase_premiums
  UNION ALL
  -- Gap(t) = Received(t - deadline) - Distributed(t), over all brands.
  SELECT 'gap', program_id, NULL, supplier_id, due_date, worker_portion, 0
  FROM payment_portions
  WHERE due_date <= :'as_of'::date
  UNION ALL
  SELECT 'gap', program_id, NULL, supplier_id, pay_date, 0, premium_amount
  FROM payroll_lines
  WHERE pay_date <= :'as_of'::date
),
balances AS (
  -- The changes of one day land together (a payment on its due date cures
  -- that day): the sides at the end of each day something changed.
  SELECT account, program_id, brand_id, supplier_id, day,
         sum(sum(expected)) OVER running AS expected,
         sum(sum(actual)) OVER running AS actual,
         lead(day) OVER running AS next_day
  FROM steps
  GROUP BY account, program_id, brand_id, supplier_id, day
  WINDOW running AS (PARTITION BY account, program_id, brand_id, supplier_id
                     ORDER BY day)
),
flagged AS (
  -- Days above the tolerance after the same number of days at or below it
  -- belong to one run.
  SELECT b.*, t.currency,
         b.expected - b.actual AS watched,
         b.expected - b.actual > t.tolerance AS above,
         count(*) FILTER (WHERE b.expected - b.actual <= t.tolerance)
           OVER running AS run_number
  FROM balances AS b
  JOIN tolerances AS t USING (program_id)
  WINDOW running AS (PARTITION BY b.account, b.program_id, b.brand_id,
                                  b.supplier_id
                     ORDER BY b.day)
),
runs AS (
  SELECT f.*,
         min(f.day) OVER run AS began,
         -- NULL while the run is still open at the as-of date.
         last_value(f.next_day) OVER run AS cured,
         bool_or(f.next_day IS NULL) OVER balance AS open_at_as_of,
         row_number() OVER (PARTITION BY f.account, f.program_id, f.brand_id,
                                         f.supplier_id
                            ORDER BY f.watched DESC, f.day) AS peak_rank
  FROM flagged AS f
  WHERE f.above
  WINDOW run AS (PARTITION BY f.account, f.program_id, f.brand_id,
                              f.supplier_id, f.run_number
                 ORDER BY f.day
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
         balance AS (PARTITION BY f.account, f.program_id, f.brand_id,
                                  f.supplier_id)
),
findings AS (
  SELECT CASE account
           WHEN 'shortfall' THEN 'BRAND_UNDERPAID'
           WHEN 'overpaid' THEN 'BRAND_OVERPAID'
           ELSE 'UNDISTRIBUTED_PREMIUM'
         END AS type,
         program_id, brand_id, supplier_id, began, NULL::date AS cured,
         -- An overpayment's expected is what was owed.
         CASE WHEN account = 'overpaid' THEN actual ELSE expected END
           AS expected,
         CASE WHEN account = 'overpaid' THEN expected ELSE actual END
           AS actual,
         currency
  FROM runs
  WHERE next_day IS NULL
  UNION ALL
  SELECT CASE account
           WHEN 'shortfall' THEN 'LATE_BRAND_PAYMENT'
           ELSE 'LATE_DISTRIBUTION'
         END,
         program_id, brand_id, supplier_id, began, cured, expected, actual,
         currency
  FROM runs
  WHERE peak_rank = 1 AND NOT open_at_as_of AND account <> 'overpaid'
),
report AS (
  SELECT concat_ws(':', lower(type), program_id, brand_id, supplier_id) AS id,
         type,
         CASE type
           WHEN 'BRAND_OVERPAID' THEN 'LOW'
           WHEN 'LATE_BRAND_PAYMENT' THEN 'MEDIUM'
           WHEN 'LATE_DISTRIBUTION' THEN 'MEDIUM'
           ELSE 'HIGH'
         END AS severity,
         program_id,
         coalesce(brand_id, '') AS brand_id,
         supplier_id,
         '' AS worker_id,
         to_char(began, 'YYYY-MM-DD') AS period_start,
         coalesce(to_char(cured, 'YYYY-MM-DD'), '') AS period_end,
         '' AS invoice_id,
         expected,
         actual,
         div_half_even(abs(actual - expected), 1, 2) AS difference,
         currency
  FROM findings
)
SELECT *
FROM report
ORDER BY program_id COLLATE "C",
         array_position(ARRAY['BRAND_UNDERPAID', 'LATE_BRAND_PAYMENT',
                              'BRAND_OVERPAID', 'UNDISTRIBUTED_PREMIUM',
                              'LATE_DISTRIBUTION'], type),
         id COLLATE "C";
