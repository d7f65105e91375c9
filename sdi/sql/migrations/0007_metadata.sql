-- Metadata, the discovery catalogue and the national register (issue 19).
--
-- Written only by the owner: the administrator sets the register's identifiers (`sdi metadata set-id`),
-- and `sdi serve`'s parent, which runs as the owner, writes the catalogue's records. Cities get no grant
-- on either; the API's reader gets SELECT on csw.records only (granted by sdi serve, which knows its name),
-- and that table never holds a record of a restricted theme.

-- The identifier the national register (ewidencja zbiorów i usług IIP, art. 13 of the IIP act) assigns to
-- a data set: one city's theme, or a theme over all cities (city 'all'). Written as the record's
-- MD_Identifier; the record's fileIdentifier is derived from city and theme and never stored.
CREATE TABLE IF NOT EXISTS sdi.dataset_ids (
    city        text        NOT NULL CHECK (city ~ '^([0-9]{7}|all)$'),
    theme       text        NOT NULL CHECK (theme ~ '^[a-z][a-z0-9_]{0,62}$'),
    register_id text        NOT NULL CHECK (register_id ~ '^[[:alnum:]._:/#-]{1,200}$'),
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (city, theme)
);
REVOKE ALL ON sdi.dataset_ids FROM PUBLIC;

-- pycsw 2.6's repository, as its `pycsw-admin.py -c setup_db` would create it, but made here so that the
-- owner owns it and pycsw (which connects as the reader) needs no DDL right. Geometry as WKT in EPSG:4326:
-- pycsw queries it with PostGIS's ST_* functions.
CREATE SCHEMA IF NOT EXISTS csw;
REVOKE ALL ON SCHEMA csw FROM PUBLIC;
CREATE TABLE IF NOT EXISTS csw.records (
    identifier text PRIMARY KEY,
    typename text NOT NULL DEFAULT 'csw:Record',
    schema text NOT NULL DEFAULT 'http://www.opengis.net/cat/csw/2.0.2',
    mdsource text NOT NULL DEFAULT 'local',
    insert_date text NOT NULL,
    xml text NOT NULL,
    anytext text NOT NULL,
    language text,
    type text, title text, title_alternate text, abstract text, keywords text, keywordstype text,
    parentidentifier text, relation text, time_begin text, time_end text, topicategory text,
    resourcelanguage text,
    creator text, publisher text, contributor text, organization text,
    securityconstraints text, accessconstraints text, otherconstraints text,
    date text, date_revision text, date_creation text, date_publication text, date_modified text,
    format text, source text,
    crs text, geodescode text, denominator text, distancevalue text, distanceuom text, wkt_geometry text,
    servicetype text, servicetypeversion text, operation text, couplingtype text, operateson text,
    operatesonidentifier text, operatesoname text,
    degree text, classification text, conditionapplyingtoaccessanduse text, lineage text,
    responsiblepartyrole text, specificationtitle text, specificationdate text, specificationdatetype text,
    links text
);
CREATE INDEX IF NOT EXISTS records_typename_idx ON csw.records (typename);
CREATE INDEX IF NOT EXISTS records_title_idx ON csw.records (title);
