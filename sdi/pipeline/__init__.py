"""The one place where the loader's stages are chained: read -> repair -> harmonise -> load, for vectors and
rasters. The stages (sdi.loader) never import each other; this package passes each one's output to the next.

- vector.py: run_load (one source layer as one city's new version), run_split (--split-by-gmina: a version per
  gmina) and run_package (--all: every layer of a package that a shipped mapping names);
- city_load.py: the chain for one city's version under the load guard, and the report of what it did;
- raster.py: run_load_raster (read and check -> mosaic, reproject, COG -> catalogue).
"""

from sdi.loader.report import LoadReport
from sdi.pipeline.raster import run_load_raster
from sdi.pipeline.vector import PackageResult, run_load, run_package, run_split

__all__ = ["LoadReport", "PackageResult", "run_load", "run_load_raster", "run_package", "run_split"]
