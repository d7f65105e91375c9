"""The loader: what runs in a city's `sdi load` and `sdi load-raster`, one module per stage.

read (with safety, sources, encodings) -> detect -> repair -> harmonise (mapping, convert) -> guard -> load;
raster -> raster_store for rasters. `sdi.pipeline` chains the stages; the server never imports this package.
"""
