-- Rasters: a raster load is a row of sdi.loads like any other (provenance, versions, rollback through
-- sdi.layers), plus one row here naming the Cloud-Optimized GeoTIFF it wrote. The file is never changed
-- or overwritten: a new load writes a new file, so rolling back only points sdi.layers at an older one.
CREATE TABLE sdi.rasters (
    load_id     bigint PRIMARY KEY REFERENCES sdi.loads ON DELETE CASCADE,
    path        text    NOT NULL,              -- the COG, absolute
    width       integer NOT NULL,
    height      integer NOT NULL,
    bands       integer NOT NULL,
    dtype       text    NOT NULL,
    nodata      double precision,
    resolution  double precision NOT NULL,     -- metres per pixel in EPSG:2180
    bytes       bigint  NOT NULL,
    low         double precision,              -- the 2nd and 98th percentiles of band 1, for colour ramps
    high        double precision,
    bounds      geometry(Polygon, 2180) NOT NULL
);

ALTER TABLE sdi.rasters ENABLE ROW LEVEL SECURITY;
-- As for rejects: a raster belongs to the city of its load.
CREATE POLICY own_city ON sdi.rasters
    USING (EXISTS (SELECT 1 FROM sdi.loads l WHERE l.load_id = rasters.load_id))
    WITH CHECK (EXISTS (SELECT 1 FROM sdi.loads l WHERE l.load_id = rasters.load_id));
GRANT SELECT, INSERT ON sdi.rasters TO sdi_loader;

-- The current raster of every (city, theme), for the API: which file to serve, and where it lies.
CREATE VIEW data.sdi_rasters AS
    SELECT l.city, l.theme, r.load_id, r.path, r.width, r.height, r.bands, r.dtype, r.nodata, r.resolution,
           r.bytes, r.low, r.high, r.bounds, d.loaded_at, d.source
    FROM sdi.layers l JOIN sdi.rasters r USING (load_id) JOIN sdi.loads d USING (load_id);
GRANT SELECT ON data.sdi_rasters TO sdi_loader;

-- The vector themes are those whose current loads are not rasters.
CREATE OR REPLACE VIEW data.sdi_layers AS
    SELECT l.city, l.theme, d.load_id, d.feature_count, d.loaded_at,
           EXISTS (SELECT 1 FROM sdi.rasters r WHERE r.load_id = l.load_id) AS raster
    FROM sdi.layers l JOIN sdi.loads d USING (load_id);
