-- Condition samples kept beside the log: the log chains one CONDITIONS_INGESTED
-- event per batch (count, span, SHA-256 of the samples), the samples live here.
-- Times are integer microseconds since 1970 UTC, so they sort and bucket by day
-- the same way in both dialects; `batch` is the sequence of the chaining event.
CREATE TABLE condition_samples (
    code TEXT COLLATE "C" NOT NULL,
    at BIGINT NOT NULL,
    batch BIGINT NOT NULL,
    operating_hours DOUBLE PRECISION NOT NULL,
    battery_health_pct DOUBLE PRECISION NOT NULL,
    charge_cycles BIGINT NOT NULL,
    movement_precision_mm DOUBLE PRECISION NOT NULL,
    abnormal_stress_events BIGINT NOT NULL,
    joint_wear TEXT NOT NULL,
    PRIMARY KEY (code, at)
);
CREATE INDEX condition_samples_batch ON condition_samples (code, batch);
-- Daily aggregates of samples older than the retention period (`robopass registry
-- rollup`). `day` counts days since 1970-01-01 UTC; `batches` maps each absorbed
-- batch's sequence to how many of its samples this day took.
CREATE TABLE condition_daily (
    code TEXT COLLATE "C" NOT NULL,
    day BIGINT NOT NULL,
    samples BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    operating_hours DOUBLE PRECISION NOT NULL,
    battery_health_pct_min DOUBLE PRECISION NOT NULL,
    battery_health_pct_sum DOUBLE PRECISION NOT NULL,
    battery_health_pct_max DOUBLE PRECISION NOT NULL,
    charge_cycles BIGINT NOT NULL,
    movement_precision_mm_sum DOUBLE PRECISION NOT NULL,
    movement_precision_mm_max DOUBLE PRECISION NOT NULL,
    abnormal_stress_events BIGINT NOT NULL,
    joint_wear TEXT NOT NULL,
    batches TEXT NOT NULL,
    PRIMARY KEY (code, day)
);
