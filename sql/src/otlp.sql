--
-- sql/src/otlp.sql -- OpenTelemetry traces in: pp_ingest_otlp() turns OTLP
-- spans into profiles, one trace one row of performance_profiles; the
-- tables that hold the spans of open traces; the attribute rules that give
-- OpenTelemetry operations their type; pp_otlp_flush() closes the traces
-- whose grace period is over (docs/opentelemetry.md, src/otlp.c)
--

--
-- A trace is open from its first span's arrival until the first flush
-- after ppprof.otlp_grace_period; meanwhile its spans are held here (so
-- that a retry, a late child or a restart changes nothing twice) and its
-- profile, once its root arrived, is rebuilt from them.  A closed trace
-- keeps its row for a day, so that a retry of its spans is recognised.
--

CREATE TABLE @extschema@.performance_otlp_traces (
    trace_id text PRIMARY KEY,
    first_received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    profile_id uuid,
    closed_at timestamptz
);
COMMENT ON TABLE @extschema@.performance_otlp_traces IS
    'OpenTelemetry traces received: when the first span arrived, the profile stored for it, when it was closed';
CREATE INDEX performance_otlp_traces_open_idx
    ON @extschema@.performance_otlp_traces (first_received_at) WHERE closed_at IS NULL;
CREATE INDEX performance_otlp_traces_closed_idx
    ON @extschema@.performance_otlp_traces (closed_at) WHERE closed_at IS NOT NULL;

CREATE TABLE @extschema@.performance_otlp_spans (
    trace_id text NOT NULL,
    span_id text NOT NULL,
    parent_span_id text,
    start_ns bigint NOT NULL,
    node jsonb NOT NULL,
    in_profile boolean NOT NULL DEFAULT false,
    PRIMARY KEY (trace_id, span_id)
);
COMMENT ON TABLE @extschema@.performance_otlp_spans IS
    'The spans of open OpenTelemetry traces, each as its profile node without children; in_profile when the stored profile holds it';

--
-- Attribute rules: a span with a matching attribute gets the rule's
-- operation type.  value '' matches any value, span_kind '' any kind.  A
-- rule with a value wins over one without, then one with a kind, then the
-- attribute first in byte order.  The type reaches the statistics through
-- operation_categories, which classify by name (see pp_ingest_otlp).
--

CREATE TABLE @extschema@.operation_attribute_categories (
    attribute text NOT NULL CHECK (attribute <> ''),
    value text NOT NULL DEFAULT '',
    span_kind text NOT NULL DEFAULT ''
        CHECK (span_kind IN ('', 'internal', 'server', 'client', 'producer', 'consumer')),
    operation_type text NOT NULL CHECK (operation_type <> ''),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (attribute, value, span_kind)
);
COMMENT ON TABLE @extschema@.operation_attribute_categories IS
    'OpenTelemetry span attribute (and value, span kind) -> operation type; value and span_kind '''' match any';

CREATE FUNCTION @extschema@.pp_attribute_rule_replace()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.operation_attribute_categories r
       SET operation_type = NEW.operation_type, updated_at = NEW.updated_at
     WHERE r.attribute = NEW.attribute AND r.value = NEW.value
       AND r.span_kind = NEW.span_kind;
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_attribute_rule_replace() IS
    'Turns the insert of an existing attribute rule into an update of that row (a restore keeps users'' edits)';

CREATE TRIGGER ppprof_config_replace
    BEFORE INSERT ON @extschema@.operation_attribute_categories
    FOR EACH ROW EXECUTE FUNCTION @extschema@.pp_attribute_rule_replace();

INSERT INTO @extschema@.operation_attribute_categories
    (attribute, value, span_kind, operation_type) VALUES
    ('gen_ai.operation.name', 'chat', '', 'llm_generation'),
    ('gen_ai.operation.name', 'text_completion', '', 'llm_generation'),
    ('gen_ai.operation.name', 'generate_content', '', 'llm_generation'),
    ('gen_ai.operation.name', 'embeddings', '', 'embedding_generation'),
    ('gen_ai.operation.name', 'retrieval', '', 'retrieval'),
    ('db.system', '', '', 'database_query'),
    ('db.system.name', '', '', 'database_query'),
    ('http.request.method', '', 'client', 'api_call'),
    ('http.method', '', 'client', 'api_call'),
    ('rpc.system', '', 'client', 'api_call');

--
-- What the C walker returns per span: the node (no children yet), or the
-- reason the span was rejected.
--

CREATE TYPE @extschema@.pp_otlp_span AS (
    ord integer,
    trace_id text,
    span_id text,
    parent_span_id text,
    start_ns bigint,
    node jsonb,
    name_type text,
    error text
);

CREATE FUNCTION @extschema@.pp_otlp_decode(request jsonb)
RETURNS SETOF @extschema@.pp_otlp_span
AS 'MODULE_PATHNAME', 'pp_otlp_decode'
LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_otlp_decode(jsonb) IS
    'Walks an OTLP/JSON ExportTraceServiceRequest: one row per span, its profile node or why it is rejected; stores nothing';

CREATE FUNCTION @extschema@.pp_otlp_build(span_ids text[], parent_ids text[],
                                          start_ns bigint[], nodes jsonb[],
                                          final boolean,
                                          OUT profile jsonb, OUT spans text[],
                                          OUT created_at timestamptz,
                                          OUT incomplete boolean)
AS 'MODULE_PATHNAME', 'pp_otlp_build'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.pp_otlp_build(text[], text[], bigint[], jsonb[], boolean) IS
    'Links the spans of one trace into a profile under its root (when final, under its top-most span if the root is missing); returns the profile and the spans it holds';

--
-- Store, or update, the profile of one trace from its held spans.  The
-- caller holds the trace's advisory lock.  Returns 'stored', 'updated' or
-- NULL (no root yet, or nothing changed).
--

CREATE FUNCTION @extschema@.pp_otlp_store(trace text, final boolean)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b record;
    pid uuid;
BEGIN
    SELECT p.profile, p.spans, p.created_at INTO b
      FROM (SELECT pg_catalog.array_agg(s.span_id) AS ids,
                   pg_catalog.array_agg(s.parent_span_id) AS parents,
                   pg_catalog.array_agg(s.start_ns) AS starts,
                   pg_catalog.array_agg(s.node) AS nodes
              FROM @extschema@.performance_otlp_spans s
             WHERE s.trace_id OPERATOR(pg_catalog.=) trace) a
     CROSS JOIN LATERAL @extschema@.pp_otlp_build(a.ids, a.parents, a.starts, a.nodes, final) p;
    IF b.profile IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE @extschema@.performance_otlp_spans s
       SET in_profile = (s.span_id OPERATOR(pg_catalog.=) ANY (b.spans))
     WHERE s.trace_id OPERATOR(pg_catalog.=) trace
       AND s.in_profile IS DISTINCT FROM (s.span_id OPERATOR(pg_catalog.=) ANY (b.spans));
    SELECT t.profile_id INTO pid
      FROM @extschema@.performance_otlp_traces t
     WHERE t.trace_id OPERATOR(pg_catalog.=) trace;
    IF pid IS NULL THEN
        INSERT INTO @extschema@.performance_profiles (query_id, profile_data, created_at)
        VALUES (trace, b.profile, b.created_at)
        RETURNING id INTO pid;
        UPDATE @extschema@.performance_otlp_traces t SET profile_id = pid
         WHERE t.trace_id OPERATOR(pg_catalog.=) trace;
        RETURN 'stored';
    END IF;
    UPDATE @extschema@.performance_profiles p
       SET profile_data = b.profile, created_at = b.created_at
     WHERE p.id OPERATOR(pg_catalog.=) pid
       AND (p.profile_data OPERATOR(pg_catalog.<>) b.profile
            OR p.created_at OPERATOR(pg_catalog.<>) b.created_at);
    IF FOUND THEN
        RETURN 'updated';
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_otlp_store(text, boolean) IS
    'Stores or updates the profile of one OpenTelemetry trace from its held spans (used by pp_ingest_otlp and pp_otlp_flush)';

--
-- Close the open traces whose first span arrived grace ago or earlier
-- (default ppprof.otlp_grace_period): store what their root never
-- gathered, marked incomplete, and drop their held spans.  A trace another
-- transaction is working on is left for the next flush.  Returns how many
-- traces were closed.  Closed traces are forgotten after a day.
--

CREATE FUNCTION @extschema@.pp_otlp_flush(grace interval DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    g interval;
    t text;
    n integer := 0;
BEGIN
    -- the setting is defined once the library is loaded; its default else
    g := coalesce(grace, current_setting('ppprof.otlp_grace_period', true)::interval,
                  '1 minute'::interval);
    IF g OPERATOR(pg_catalog.<) '0'::interval THEN
        RAISE EXCEPTION 'grace must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR t IN
        SELECT o.trace_id FROM @extschema@.performance_otlp_traces o
         WHERE o.closed_at IS NULL
           AND o.first_received_at OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) g)
         ORDER BY o.trace_id
    LOOP
        IF NOT pg_catalog.pg_try_advisory_xact_lock(1886408532, pg_catalog.hashtext(t)) THEN
            CONTINUE;
        END IF;
        -- closed meanwhile by another flush
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM @extschema@.performance_otlp_traces o
                                   WHERE o.trace_id OPERATOR(pg_catalog.=) t AND o.closed_at IS NULL);
        PERFORM @extschema@.pp_otlp_store(t, true);
        DELETE FROM @extschema@.performance_otlp_spans s WHERE s.trace_id OPERATOR(pg_catalog.=) t;
        UPDATE @extschema@.performance_otlp_traces o SET closed_at = pg_catalog.now()
         WHERE o.trace_id OPERATOR(pg_catalog.=) t;
        n := n OPERATOR(pg_catalog.+) 1;
    END LOOP;
    DELETE FROM @extschema@.performance_otlp_traces o
     WHERE o.closed_at OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) '1 day'::interval);
    RETURN n;
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_otlp_flush(interval) IS
    'Closes the OpenTelemetry traces whose grace period is over: stores their spans without root or parent, marked incomplete; returns how many';

--
-- pp_ingest_otlp: one OTLP/JSON ExportTraceServiceRequest.  Each trace is
-- taken under its advisory lock (classid 1886408532, "ppOT"), in trace id
-- order, so that concurrent requests touching the same traces serialise
-- without deadlock; the flush at the end only tries its locks.
--

CREATE FUNCTION @extschema@.pp_ingest_otlp(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    spans @extschema@.pp_otlp_span[];
    accepted bigint := 0;
    rejected bigint := 0;
    stored bigint := 0;
    updated bigint := 0;
    pending bigint;
    first_error text;
    late_error text;
    room bigint;
    held bigint;
    fresh bigint;
    n bigint;
    t record;
    tr record;
    outcome text;
    learned text[];
    learned_types text[];
    max_nodes bigint;
BEGIN
    IF request IS NULL THEN
        RAISE EXCEPTION 'request must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    spans := ARRAY(SELECT d FROM @extschema@.pp_otlp_decode(request) d ORDER BY d.ord);
    -- defined now that pp_otlp_decode loaded the library
    max_nodes := pg_catalog.current_setting('ppprof.max_nodes')::bigint;

    SELECT pg_catalog.count(*), (pg_catalog.array_agg(d.error ORDER BY d.ord))[1]
      INTO rejected, first_error
      FROM pg_catalog.unnest(spans) d WHERE d.error IS NOT NULL;

    -- attribute rules teach operation_categories the type of a name the
    -- rules would classify otherwise (never over a row for that name)
    SELECT pg_catalog.array_agg(c.name), pg_catalog.array_agg(c.type)
      INTO learned, learned_types
      FROM (SELECT DISTINCT ON (d.node OPERATOR(pg_catalog.->>) 'operation_name')
                   d.node OPERATOR(pg_catalog.->>) 'operation_name' AS name, r.operation_type AS type,
                   d.name_type
              FROM pg_catalog.unnest(spans) d
              CROSS JOIN LATERAL (
                SELECT a.operation_type
                  FROM @extschema@.operation_attribute_categories a
                 WHERE (d.node OPERATOR(pg_catalog.->) 'metadata') OPERATOR(pg_catalog.?) a.attribute
                   AND (a.value OPERATOR(pg_catalog.=) ''
                        OR (d.node OPERATOR(pg_catalog.->) 'metadata' OPERATOR(pg_catalog.->>) a.attribute)
                           OPERATOR(pg_catalog.=) a.value)
                   AND (a.span_kind OPERATOR(pg_catalog.=) ''
                        OR (d.node OPERATOR(pg_catalog.->) 'metadata' OPERATOR(pg_catalog.->>) 'otel.span_kind')
                           OPERATOR(pg_catalog.=) a.span_kind)
                 ORDER BY a.value OPERATOR(pg_catalog.=) '', a.span_kind OPERATOR(pg_catalog.=) '',
                          a.attribute COLLATE "C"
                 LIMIT 1) r
             WHERE d.error IS NULL
             ORDER BY d.node OPERATOR(pg_catalog.->>) 'operation_name', d.ord) c
     WHERE c.type OPERATOR(pg_catalog.<>) c.name_type
       AND NOT EXISTS (SELECT 1 FROM @extschema@.operation_categories oc
                        WHERE oc.pattern OPERATOR(pg_catalog.=) c.name)
       AND (SELECT pg_catalog.count(*) FROM @extschema@.operation_categories)
           OPERATOR(pg_catalog.<) 10000;
    IF learned IS NOT NULL THEN
        INSERT INTO @extschema@.operation_categories (pattern, operation_type)
        SELECT * FROM ROWS FROM (pg_catalog.unnest(learned), pg_catalog.unnest(learned_types))
        ON CONFLICT DO NOTHING;
    END IF;

    room := pg_catalog.current_setting('ppprof.otlp_max_pending_spans')::bigint
            OPERATOR(pg_catalog.-) (SELECT pg_catalog.count(*) FROM @extschema@.performance_otlp_spans);
    FOR t IN
        SELECT d.trace_id, pg_catalog.count(*) AS n
          FROM pg_catalog.unnest(spans) d
         WHERE d.error IS NULL
         GROUP BY d.trace_id
         ORDER BY d.trace_id COLLATE "C"
    LOOP
        PERFORM pg_catalog.pg_advisory_xact_lock(1886408532, pg_catalog.hashtext(t.trace_id));
        SELECT o.closed_at, o.profile_id INTO tr
          FROM @extschema@.performance_otlp_traces o
         WHERE o.trace_id OPERATOR(pg_catalog.=) t.trace_id;

        IF FOUND AND tr.closed_at IS NOT NULL THEN
            -- closed: a span its profile holds is a retry, any other is late
            SELECT pg_catalog.count(*) FILTER (WHERE p.held),
                   (pg_catalog.array_agg(p.span_id ORDER BY p.ord) FILTER (WHERE NOT p.held))[1]
              INTO n, late_error
              FROM (SELECT d.ord, d.span_id,
                           coalesce(pg_catalog.jsonb_path_exists(
                               (SELECT pp.profile_data FROM @extschema@.performance_profiles pp
                                 WHERE pp.id OPERATOR(pg_catalog.=) tr.profile_id),
                               '$.** ? (@."otel.span_id" == $s)',
                               pg_catalog.jsonb_build_object('s', d.span_id)), false) AS held
                      FROM pg_catalog.unnest(spans) d
                     WHERE d.error IS NULL AND d.trace_id OPERATOR(pg_catalog.=) t.trace_id) p;
            accepted := accepted OPERATOR(pg_catalog.+) n;
            IF n OPERATOR(pg_catalog.<) t.n THEN
                rejected := rejected OPERATOR(pg_catalog.+) (t.n OPERATOR(pg_catalog.-) n);
                first_error := coalesce(first_error,
                    pg_catalog.format('span %s of trace %s arrived after the grace period of its trace',
                                      late_error, t.trace_id));
            END IF;
            CONTINUE;
        END IF;

        SELECT pg_catalog.count(*) INTO held
          FROM @extschema@.performance_otlp_spans s
         WHERE s.trace_id OPERATOR(pg_catalog.=) t.trace_id;
        -- the request's spans the trace does not hold yet, once each
        SELECT pg_catalog.count(DISTINCT d.span_id) INTO fresh
          FROM pg_catalog.unnest(spans) d
         WHERE d.error IS NULL AND d.trace_id OPERATOR(pg_catalog.=) t.trace_id
           AND NOT EXISTS (SELECT 1 FROM @extschema@.performance_otlp_spans s
                            WHERE s.trace_id OPERATOR(pg_catalog.=) d.trace_id
                              AND s.span_id OPERATOR(pg_catalog.=) d.span_id);
        INSERT INTO @extschema@.performance_otlp_spans
            (trace_id, span_id, parent_span_id, start_ns, node)
        SELECT u.trace_id, u.span_id, u.parent_span_id, u.start_ns, u.node
          FROM (SELECT DISTINCT ON (d.span_id) d.*
                  FROM pg_catalog.unnest(spans) d
                 WHERE d.error IS NULL AND d.trace_id OPERATOR(pg_catalog.=) t.trace_id
                   AND NOT EXISTS (SELECT 1 FROM @extschema@.performance_otlp_spans s
                                    WHERE s.trace_id OPERATOR(pg_catalog.=) d.trace_id
                                      AND s.span_id OPERATOR(pg_catalog.=) d.span_id)
                 ORDER BY d.span_id, d.ord) u
         ORDER BY u.ord
         LIMIT GREATEST(0, LEAST(max_nodes OPERATOR(pg_catalog.-) held, room));
        GET DIAGNOSTICS n = ROW_COUNT;
        room := room OPERATOR(pg_catalog.-) n;
        accepted := accepted OPERATOR(pg_catalog.+) t.n OPERATOR(pg_catalog.-) (fresh OPERATOR(pg_catalog.-) n);
        IF n OPERATOR(pg_catalog.<) fresh THEN
            rejected := rejected OPERATOR(pg_catalog.+) (fresh OPERATOR(pg_catalog.-) n);
            first_error := coalesce(first_error,
                CASE WHEN held OPERATOR(pg_catalog.+) n OPERATOR(pg_catalog.>=) max_nodes
                     THEN pg_catalog.format('trace %s holds ppprof.max_nodes (%s) spans: %s more were rejected',
                                            t.trace_id, max_nodes, fresh OPERATOR(pg_catalog.-) n)
                     ELSE pg_catalog.format('the open traces hold ppprof.otlp_max_pending_spans (%s) spans: %s more of trace %s were rejected',
                                            pg_catalog.current_setting('ppprof.otlp_max_pending_spans'),
                                            fresh OPERATOR(pg_catalog.-) n, t.trace_id)
                END);
        END IF;
        IF n OPERATOR(pg_catalog.>) 0 THEN
            INSERT INTO @extschema@.performance_otlp_traces (trace_id) VALUES (t.trace_id)
            ON CONFLICT DO NOTHING;
            outcome := @extschema@.pp_otlp_store(t.trace_id, false);
            IF outcome OPERATOR(pg_catalog.=) 'stored' THEN
                stored := stored OPERATOR(pg_catalog.+) 1;
            ELSIF outcome OPERATOR(pg_catalog.=) 'updated' THEN
                updated := updated OPERATOR(pg_catalog.+) 1;
            END IF;
        END IF;
    END LOOP;

    SELECT pg_catalog.count(*) INTO pending
      FROM @extschema@.performance_otlp_spans s
     WHERE NOT s.in_profile
       AND s.trace_id OPERATOR(pg_catalog.=) ANY (SELECT d.trace_id FROM pg_catalog.unnest(spans) d);

    PERFORM @extschema@.pp_otlp_flush();

    RETURN pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'accepted_spans', accepted,
        'rejected_spans', rejected,
        'profiles_stored', stored,
        'profiles_updated', updated,
        'pending_spans', pending,
        'error_message', first_error));
END;
$$;
COMMENT ON FUNCTION @extschema@.pp_ingest_otlp(jsonb) IS
    'Stores the spans of one OTLP/JSON ExportTraceServiceRequest as profiles, one per trace; returns accepted, rejected, stored, updated and pending counts (OTLP partial success)';
