"""geopandas' own way, for the benchmark: read the shapefile, reproject, to_postgis.

python benchmarks/to_postgis.py FILE.shp POSTGRES_URL TABLE
"""

import sys

import geopandas as gpd
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine

path, url, table = sys.argv[1:4]
c = conninfo_to_dict(url)
engine = create_engine(f"postgresql+psycopg://{c['user']}:{c['password']}@{c['host']}:{c['port']}/{c['dbname']}")
frame = gpd.read_file(path, encoding="cp1250").to_crs(2180)
frame.to_postgis(table, engine, if_exists="replace", chunksize=50_000)
