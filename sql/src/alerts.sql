--
-- sql/src/alerts.sql -- alert rules, the alerts they fire and resolve, and
-- pp_check_alerts(), which evaluates them and sends NOTIFY ppprof_alerts
--

CREATE TABLE @extschema@.performance_alert_rules (
    name text PRIMARY KEY CHECK (name <> ''),
    operation text,
    operation_type text,
    metric text NOT NULL
        CHECK (metric IN ('avg', 'p50', 'p95', 'p99', 'error_rate', 'calls')),
    comparator text NOT NULL DEFAULT '>'
        CHECK (comparator IN ('>', '>=', '<', '<=')),
    threshold float,
    baseline text,
    deviation_pct float CHECK (deviation_pct OPERATOR(pg_catalog.>=) 0),
    "window" interval NOT NULL DEFAULT '5 minutes'
        CHECK ("window" > '0'::interval),
    min_calls integer NOT NULL DEFAULT 1 CHECK (min_calls >= 1),
    enabled boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT one_target CHECK (operation IS NULL OR operation_type IS NULL),
    CONSTRAINT threshold_or_baseline
        CHECK ((threshold IS NULL) <> (baseline IS NULL)),
    CONSTRAINT baseline_needs_deviation
        CHECK (baseline IS NULL OR deviation_pct IS NOT NULL),
    -- an 8,000-character name made pg_notify refuse the payload and aborted
    -- the whole pp_check_alerts() run
    CONSTRAINT name_at_most_200_characters
        CHECK (pg_catalog.char_length(name) <= 200)
);
COMMENT ON TABLE @extschema@.performance_alert_rules IS
    'Alert rules: an operation (or every operation of a type, or the profiles when both are NULL), a metric over a window, and a fixed threshold or a deviation from a named baseline';

CREATE TABLE @extschema@.performance_alerts (
    id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    rule text NOT NULL
        REFERENCES @extschema@.performance_alert_rules (name)
        ON DELETE CASCADE ON UPDATE CASCADE,
    operation text,
    metric text NOT NULL,
    value float NOT NULL,
    threshold float NOT NULL,
    status text NOT NULL CHECK (status IN ('firing', 'resolved')),
    fired_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    checked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    resolved_at timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- at most one open alert per rule and operation
CREATE UNIQUE INDEX performance_alerts_open_idx
    ON @extschema@.performance_alerts (rule, (COALESCE(operation, '')))
    WHERE status = 'firing';
CREATE INDEX performance_alerts_fired_at_idx
    ON @extschema@.performance_alerts (fired_at);
COMMENT ON TABLE @extschema@.performance_alerts IS
    'Alerts fired and resolved by pp_check_alerts(); one open alert per rule and operation';

--
-- pp_check_alerts: each rule in its own subtransaction, so that a rule whose
-- evaluation fails is reported with a WARNING and the others are still
-- checked; a notification that would not fit pg_notify's limit is sent with
-- its names cut (and the alert's id, present in every payload).
--

CREATE FUNCTION @extschema@.pp_check_alerts()
RETURNS TABLE (rule text, operation text, metric text, value float,
               threshold float, status text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r @extschema@.performance_alert_rules;
    m record;
    t1 timestamptz := now();
    breach boolean;
    open_id uuid;
    new_id uuid;
    changed uuid[] := '{}';
    mine uuid[];
    ch record;
    payload text;
    failure text;
BEGIN
    FOR r IN SELECT * FROM @extschema@.performance_alert_rules x
              WHERE x.enabled ORDER BY x.name
    LOOP
      BEGIN
        mine := '{}';
        FOR m IN
            WITH s AS (
                SELECT * FROM @extschema@.pp_range_stats(tstzrange(t1 - r."window", t1, '[]'))
            ),
            targets AS (
                -- the rule's operations with their current value; an exact
                -- operation without calls has calls 0 and no other value
                SELECT s.operation, s.calls,
                       CASE r.metric WHEN 'avg' THEN s.avg_ms WHEN 'p50' THEN s.p50_ms
                                     WHEN 'p95' THEN s.p95_ms WHEN 'p99' THEN s.p99_ms
                                     WHEN 'error_rate' THEN s.error_rate
                                     ELSE s.calls::float END AS v
                  FROM s
                 WHERE (r.operation IS NOT NULL AND s.operation = r.operation)
                    OR (r.operation_type IS NOT NULL AND s.operation IS NOT NULL
                        AND s.operation_type = r.operation_type)
                    OR (r.operation IS NULL AND r.operation_type IS NULL AND s.operation IS NULL)
                UNION ALL
                SELECT r.operation, 0, CASE WHEN r.metric = 'calls' THEN 0 END
                 WHERE r.operation IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM s WHERE s.operation = r.operation)
            )
            SELECT tg.operation AS op, tg.calls AS n, tg.v,
                   CASE WHEN r.threshold IS NOT NULL THEN r.threshold
                        ELSE bv.v * (1 + sign_of.s * r.deviation_pct / 100.0) END AS limit_value
              FROM targets tg
              CROSS JOIN (SELECT CASE WHEN r.comparator IN ('<', '<=') THEN -1 ELSE 1 END AS s) sign_of
              LEFT JOIN LATERAL (
                  SELECT CASE r.metric WHEN 'avg' THEN o.avg_ms WHEN 'p50' THEN o.p50_ms
                                       WHEN 'p95' THEN o.p95_ms WHEN 'p99' THEN o.p99_ms
                                       WHEN 'error_rate' THEN o.error_rate
                                       ELSE o.calls_per_hour * extract(epoch FROM r."window") / 3600.0 END AS v
                    FROM @extschema@.performance_baseline_operations o
                   WHERE o.baseline = r.baseline AND o.operation = tg.operation
                  UNION ALL
                  SELECT CASE r.metric WHEN 'avg' THEN b.avg_ms WHEN 'p95' THEN b.p95_ms
                                       WHEN 'error_rate' THEN b.error_rate
                                       WHEN 'calls' THEN b.profiles_per_hour * extract(epoch FROM r."window") / 3600.0 END
                    FROM @extschema@.performance_baselines b
                   WHERE b.name = r.baseline AND tg.operation IS NULL
              ) bv ON true
        LOOP
            breach := m.v IS NOT NULL AND m.limit_value IS NOT NULL
                      AND m.n >= CASE WHEN r.metric = 'calls' THEN 0 ELSE r.min_calls END
                      AND CASE r.comparator
                              WHEN '>' THEN m.v > m.limit_value
                              WHEN '>=' THEN m.v >= m.limit_value
                              WHEN '<' THEN m.v < m.limit_value
                              ELSE m.v <= m.limit_value END;
            SELECT a.id INTO open_id FROM @extschema@.performance_alerts a
             WHERE a.rule = r.name AND a.status = 'firing'
               AND COALESCE(a.operation, '') = COALESCE(m.op, '')
               FOR UPDATE;
            IF breach AND open_id IS NULL THEN
                INSERT INTO @extschema@.performance_alerts AS x
                    (rule, operation, metric, value, threshold, status, fired_at, checked_at)
                VALUES (r.name, m.op, r.metric, m.v, m.limit_value, 'firing', t1, t1)
                ON CONFLICT DO NOTHING
                RETURNING x.id INTO new_id;
                IF new_id IS NOT NULL THEN
                    mine := mine || new_id;
                END IF;
            ELSIF breach THEN
                UPDATE @extschema@.performance_alerts x
                   SET value = m.v, threshold = m.limit_value, checked_at = t1
                 WHERE x.id = open_id;
            ELSIF open_id IS NOT NULL THEN
                UPDATE @extschema@.performance_alerts x
                   SET status = 'resolved', resolved_at = t1, checked_at = t1,
                       value = COALESCE(m.v, x.value),
                       threshold = COALESCE(m.limit_value, x.threshold)
                 WHERE x.id = open_id;
                mine := mine || open_id;
            END IF;
        END LOOP;

        -- open alerts on operations the rule no longer reaches (no calls in
        -- the window, or the rule changed) are resolved
        WITH u AS (
            UPDATE @extschema@.performance_alerts x
               SET status = 'resolved', resolved_at = t1, checked_at = t1
             WHERE x.rule = r.name AND x.status = 'firing' AND x.checked_at < t1
            RETURNING x.id)
        SELECT mine || COALESCE(array_agg(u.id), '{}') INTO mine FROM u;
        changed := changed || mine;
      EXCEPTION WHEN OTHERS THEN
        -- this rule's changes are rolled back; the next rules are checked
        GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT;
        RAISE WARNING 'alert rule "%" not checked', r.name
            USING DETAIL = format('Its evaluation failed: %s.', failure),
                  HINT = 'The other rules were checked. Correct or disable this one.';
      END;
    END LOOP;

    -- alerts of disabled rules are resolved too
    WITH u AS (
        UPDATE @extschema@.performance_alerts x
           SET status = 'resolved', resolved_at = t1, checked_at = t1
          FROM @extschema@.performance_alert_rules d
         WHERE d.name = x.rule AND NOT d.enabled AND x.status = 'firing'
        RETURNING x.id)
    SELECT changed || COALESCE(array_agg(u.id), '{}') INTO changed FROM u;

    -- every change: returned, and told to the listeners
    FOR ch IN
        SELECT x.id, x.rule, x.operation, x.metric, x.value, x.threshold, x.status,
               d.comparator, d."window"
          FROM @extschema@.performance_alerts x
          JOIN @extschema@.performance_alert_rules d ON d.name = x.rule
         WHERE x.id = ANY (changed)
         ORDER BY x.rule, x.operation NULLS FIRST
    LOOP
        rule := ch.rule; operation := ch.operation; metric := ch.metric;
        value := ch.value; threshold := ch.threshold; status := ch.status;
        payload := jsonb_build_object(
            'id', ch.id, 'status', ch.status, 'rule', ch.rule,
            'operation', ch.operation, 'metric', ch.metric, 'value', ch.value,
            'comparator', ch.comparator, 'threshold', ch.threshold,
            'window', ch."window"::text, 'database', current_database(),
            'at', t1)::text;
        -- pg_notify refuses 8000 bytes or more.  Operation names reach 1000
        -- bytes, six times that once escaped in JSON: cut to 200 characters
        -- (at most 1,200 bytes each), the payload stays under 3,200 bytes,
        -- and the listener reads the rest from performance_alerts by id.
        IF octet_length(payload) >= 8000 THEN
            payload := jsonb_build_object(
                'id', ch.id, 'status', ch.status, 'rule', left(ch.rule, 200),
                'operation', left(ch.operation, 200), 'metric', ch.metric,
                'value', ch.value, 'comparator', ch.comparator,
                'threshold', ch.threshold, 'window', ch."window"::text,
                'database', current_database(), 'at', t1,
                'truncated', true)::text;
        END IF;
        PERFORM pg_notify('ppprof_alerts', payload);
        RETURN NEXT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_check_alerts() IS
    'Evaluates the enabled alert rules, each on its own (a failing rule is skipped with a WARNING); records fired and resolved alerts (never two open ones for a rule and operation), sends NOTIFY ppprof_alerts, and returns the changes';
