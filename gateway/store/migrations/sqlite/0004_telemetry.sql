-- Condition samples kept beside the log: the log chains one CONDITIONS_INGESTED
-- event per batch (count, span, SHA-256 of the samples), the samples live here.
-- Times are integer microseconds since 1970 UTC, so they sort and bucket by day
-- the same way in both dialects; `batch` is the sequence of the chaining event.
CREATE TABLE condition_samples (
    code TEXT NOT NULL,
    at INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    operating_hours REAL NOT NULL,
    battery_health_pct REAL NOT NULL,
    charge_cycles INTEGER NOT NULL,
    movement_precision_mm REAL NOT NULL,
    abnormal_stress_events INTEGER NOT NULL,
    joint_wear TEXT NOT NULL,
    PRIMARY KEY (code, at)
);
CREATE INDEX condition_samples_batch ON condition_samples (code, batch);
-- Daily aggregates of samples older than the retention period (`robopass registry
-- rollup`). `day` counts days since 1970-01-01 UTC; `batches` maps each absorbed
-- batch's sequence to how many of its samples this day took.
CREATE TABLE condition_daily (
    code TEXT NOT NULL,
    day INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    operating_hours REAL NOT NULL,
    battery_health_pct_min REAL NOT NULL,
    battery_health_pct_sum REAL NOT NULL,
    battery_health_pct_max REAL NOT NULL,
    charge_cycles INTEGER NOT NULL,
    movement_precision_mm_sum REAL NOT NULL,
    movement_precision_mm_max REAL NOT NULL,
    abnormal_stress_events INTEGER NOT NULL,
    joint_wear TEXT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (code, day)
);
