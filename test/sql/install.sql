-- install: CREATE EXTENSION runs one script, sql/ppprof--1.3.sql, which the
-- Makefile concatenates from the topic files of sql/src/.  No version has
-- been released, so there is no other script and no update path.  The
-- script creates exactly the expected objects, each once, named in the
-- extension's schema, with no trace of history (nothing replaced, dropped
-- or altered after it is made); and the catalog it leaves is the same
-- whatever default privileges it meets (Supabase's give every new object
-- to anon, authenticated and service_role).
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;

CREATE EXTENSION ppprof;
SELECT e.extversion, e.extversion = a.default_version AS is_default_version
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
 WHERE e.extname = 'ppprof';
-- the versions there are: this one, and no path from another
SELECT version, installed FROM pg_available_extension_versions WHERE name = 'ppprof';
SELECT count(*) AS update_paths FROM pg_extension_update_paths('ppprof') WHERE path IS NOT NULL;

-- the extension's objects: its tables and functions
CREATE TEMP VIEW members AS
SELECT d.classid, d.objid, d.objsubid
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof');
SELECT pg_describe_object(classid, objid, objsubid) AS member
  FROM members WHERE classid IN ('pg_class'::regclass, 'pg_proc'::regclass)
 ORDER BY 1;
-- and nothing else, but for the row types of those tables and their arrays
-- and the array of a member type (members since PostgreSQL 17), and the row
-- type of pp_otlp_decode's spans
SELECT pg_describe_object(m.classid, m.objid, m.objsubid) AS other_member
  FROM members m
 WHERE m.classid NOT IN ('pg_class'::regclass, 'pg_proc'::regclass)
   AND NOT EXISTS (SELECT 1 FROM pg_type t
                     LEFT JOIN pg_type e ON e.oid = t.typelem
                     JOIN members r ON r.classid = 'pg_class'::regclass
                                   AND r.objid IN (t.typrelid, e.typrelid)
                    WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid)
   AND NOT EXISTS (SELECT 1 FROM pg_type t
                     JOIN members r ON r.classid = 'pg_type'::regclass AND r.objid = t.typelem
                    WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid);

-- the installed script, and its statements outside comments and
-- dollar-quoted function bodies
CREATE TEMP TABLE script AS
SELECT pg_read_file(c.setting || '/extension/ppprof--' || e.extversion || '.sql') AS text
  FROM pg_config c, pg_extension e
 WHERE c.name = 'SHAREDIR' AND e.extname = 'ppprof';
CREATE TEMP TABLE top_level AS
SELECT regexp_replace(regexp_replace(regexp_replace(text, '/\*.*?\*/', '', 'g'),
                                     '--[^\n]*', '', 'g'),
                      '\$\$.*?\$\$', '$$', 'g') AS text
  FROM script;

-- what the script creates: tables, functions, indexes, and triggers with
-- their table (performance_profiles is created by one of two branches,
-- partitioned or not: the ELSE branch is not counted)
CREATE TEMP TABLE created AS
SELECT m[1] AS kind, replace(m[2], '@extschema@.', '') AS name
  FROM top_level,
       regexp_matches(regexp_replace(text, 'ELSE\s+CREATE TABLE [^;]*;', '', 'g'),
                      'CREATE (TABLE|FUNCTION) ([^\s(]+)', 'g') AS m
UNION ALL
SELECT 'INDEX', m[1]
  FROM top_level, regexp_matches(text, 'CREATE (?:UNIQUE )?INDEX (\w+)', 'g') AS m
UNION ALL
SELECT 'TRIGGER', m[1] || ' ON ' || replace(m[2], '@extschema@.', '')
  FROM top_level,
       regexp_matches(text, 'CREATE TRIGGER (\w+)\s+(?:BEFORE|AFTER)[A-Z\s]*\sON\s+([^\s(]+)', 'g') AS m;
SELECT kind, count(*) FROM created GROUP BY 1 ORDER BY 1;
-- none twice (a function's name twice only for overloads, whose argument
-- lists differ: pp_flamegraph(uuid) and pp_flamegraph(interval))
SELECT kind, name, count(*) AS times FROM created GROUP BY 1, 2 HAVING count(*) > 1
EXCEPT
SELECT 'FUNCTION', m[1], count(*)
  FROM top_level, regexp_matches(text, 'CREATE FUNCTION @extschema@\.(\w+)\(([^)]*)\)', 'g') AS m
 GROUP BY m[1] HAVING count(DISTINCT m[2]) = count(*);

-- and exactly what the catalog holds (constraints' indexes and triggers
-- aside): nothing created that is not installed, nothing installed that
-- was not created by name
CREATE TEMP TABLE installed AS
WITH rels AS (SELECT c.* FROM pg_class c JOIN pg_depend d ON d.objid = c.oid
               WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
                 AND d.deptype = 'e'
                 AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof'))
SELECT 'TABLE' AS kind, relname::text AS name FROM rels
UNION ALL
SELECT 'FUNCTION', p.proname::text
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid
 WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
   AND d.deptype = 'e' AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ppprof')
UNION ALL
SELECT 'INDEX', i.indexrelid::regclass::text
  FROM rels c JOIN pg_index i ON i.indrelid = c.oid
 WHERE NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid)
UNION ALL
SELECT 'TRIGGER', t.tgname || ' ON ' || c.relname
  FROM rels c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal;
(SELECT 'created only' AS side, * FROM created EXCEPT ALL SELECT 'created only', * FROM installed)
UNION ALL
(SELECT 'installed only', * FROM installed EXCEPT ALL SELECT 'installed only', * FROM created)
ORDER BY 1, 2, 3;

-- no history: besides creating, the statements only enable row level
-- security and make the triggers of performance_profiles fire always,
-- which CREATE cannot say (the function bodies are checked by lint; a
-- command tag in quotes, as the event trigger's WHEN TAG IN lists, is no
-- statement)
SELECT regexp_replace(m[1], '@extschema@\.\w+', 'T') AS statement, count(*)
  FROM top_level, regexp_matches(text, '(?<!'')(\m(?:CREATE OR REPLACE|DROP|ALTER|RENAME|GRANT|REVOKE)\M[^;]*)', 'g') AS m
 GROUP BY 1 ORDER BY 1;

-- every name the statements give is in the extension's schema or
-- pg_catalog: none is looked up through the search_path
CREATE TEMP TABLE named AS
SELECT m[1] AS target
  FROM top_level, regexp_matches(text,
         '(?:CREATE (?:TABLE|FUNCTION)|COMMENT ON (?:TABLE|COLUMN|FUNCTION)|ALTER TABLE|INSERT INTO|REFERENCES|EXECUTE FUNCTION|SELECT|INDEX \w+\s+ON|(?:BEFORE|AFTER)[A-Z\s]*\sON)\s+([^\s(]+)',
         'g') AS m;
SELECT count(*) AS names FROM named;
SELECT target AS unqualified FROM named
 WHERE target !~ '^(@extschema@|pg_catalog)\.' ORDER BY 1;

-- everything the catalog says about the extension's tables and functions,
-- one row each (the triggers of foreign keys, named after their OIDs, are in
-- their constraints)
CREATE FUNCTION pg_temp.ppprof_catalog() RETURNS TABLE (kind text, item text)
LANGUAGE sql AS $$
WITH ext AS (SELECT e.oid FROM pg_extension e WHERE e.extname = 'ppprof'),
members AS (SELECT d.classid, d.objid FROM pg_depend d, ext
             WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
               AND d.deptype = 'e'
               AND d.classid IN ('pg_class'::regclass, 'pg_proc'::regclass)),
rels AS (SELECT c.* FROM pg_class c JOIN members m ON m.objid = c.oid
          WHERE m.classid = 'pg_class'::regclass),
procs AS (SELECT p.* FROM pg_proc p JOIN members m ON m.objid = p.oid
           WHERE m.classid = 'pg_proc'::regclass)
SELECT 'object', pg_describe_object(m.classid, m.objid, 0) FROM members m
UNION ALL
SELECT 'function', format('%s: security definer %s, config %s, %s, body %s, comment %s',
                          p.oid::regprocedure, p.prosecdef, p.proconfig,
                          md5(pg_get_functiondef(p.oid)), md5(p.prosrc),
                          obj_description(p.oid, 'pg_proc'))
  FROM procs p
UNION ALL
SELECT 'relation', format('%s: kind %s, rls %s, forced %s, comment %s', c.oid::regclass,
                          c.relkind, c.relrowsecurity, c.relforcerowsecurity,
                          obj_description(c.oid, 'pg_class'))
  FROM rels c
UNION ALL
SELECT 'column', format('%s.%s %s not null %s default %s comment %s', a.attrelid::regclass,
                        a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        pg_get_expr(ad.adbin, ad.adrelid), col_description(a.attrelid, a.attnum))
  FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
UNION ALL
SELECT 'constraint', format('%s %s: %s validated %s', co.conrelid::regclass, co.conname,
                            pg_get_constraintdef(co.oid), co.convalidated)
  FROM rels c JOIN pg_constraint co ON co.conrelid = c.oid
UNION ALL
SELECT 'index', pg_get_indexdef(i.indexrelid)
  FROM rels c JOIN pg_index i ON i.indrelid = c.oid
UNION ALL
SELECT 'trigger', pg_get_triggerdef(t.oid)
  FROM rels c JOIN pg_trigger t ON t.tgrelid = c.oid AND NOT t.tgisinternal
UNION ALL
SELECT 'policy', format('%s %s: %s to %s using %s check %s', po.polrelid::regclass, po.polname,
                        po.polcmd, po.polroles::regrole[], pg_get_expr(po.polqual, po.polrelid),
                        pg_get_expr(po.polwithcheck, po.polrelid))
  FROM rels c JOIN pg_policy po ON po.polrelid = c.oid
UNION ALL
SELECT 'privilege', format('%s: %s to %s by %s%s', o.name, a.privilege_type,
                           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
                           a.grantor::regrole, CASE WHEN a.is_grantable THEN ' with grant option' ELSE '' END)
  FROM (SELECT c.oid::regclass::text AS name, coalesce(c.relacl, acldefault('r', c.relowner)) AS acl
          FROM rels c
        UNION ALL
        SELECT p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner))
          FROM procs p) o
 CROSS JOIN LATERAL aclexplode(o.acl) a
UNION ALL
SELECT 'initial privileges', format('%s: %s %s', pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
                                    ip.privtype, ip.initprivs)
  FROM pg_init_privs ip JOIN members m ON m.classid = ip.classoid AND m.objid = ip.objoid
UNION ALL
SELECT 'dumped', format('%s %s', e.extconfig::regclass[], e.extcondition)
  FROM pg_extension e JOIN ext ON ext.oid = e.oid
$$;

CREATE TEMP TABLE under_default_privileges AS SELECT * FROM pg_temp.ppprof_catalog();
DROP EXTENSION ppprof;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM anon, authenticated, service_role;
CREATE EXTENSION ppprof;
CREATE TEMP TABLE plain AS SELECT * FROM pg_temp.ppprof_catalog();
-- no difference either way
(SELECT 'under default privileges only' AS side, * FROM under_default_privileges
 EXCEPT ALL SELECT 'under default privileges only', * FROM plain)
UNION ALL
(SELECT 'plain only', * FROM plain EXCEPT ALL SELECT 'plain only', * FROM under_default_privileges)
ORDER BY 1, 2, 3;
-- what was compared, counted as on PostgreSQL 15 (17's MAINTAIN privilege
-- on each table is compared above, and left out of this count)
SELECT kind, count(*) FROM plain
 WHERE NOT (kind = 'privilege' AND item LIKE '%: MAINTAIN to %')
 GROUP BY 1 ORDER BY 1;
-- the unreleased versions before this one cannot be installed
DROP EXTENSION ppprof;
CREATE EXTENSION ppprof VERSION '1.2';

REVOKE USAGE ON SCHEMA public FROM anon, authenticated, service_role;
DROP ROLE anon, authenticated, service_role;
